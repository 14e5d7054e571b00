// clusterfs_tool: one writer for both output forms, so that the text a person reads and
// the JSON a script parses always carry the same fields.
//   text: "key: value" lines, nested objects indented, array elements headed "key[i]:"
//   json: one JSON document on stdout, built and encoded by nlohmann-json. Strings are
//         UTF-8: names that are valid UTF-8 come out as they are; bytes that are not
//         (a file name is any bytes but '/' and NUL) come out as U+FFFD.
#pragma once

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

class ToolOutput {
public:
	explicit ToolOutput(bool json, FILE *out = stdout) : json_(json), out_(out) {}

	void begin_object(const char *key = nullptr)
	{
		if (json_)
			open_container(key, nlohmann::ordered_json::object());
		else if (key || in_array())
			heading(key);
		push(false);
	}
	void end_object()
	{
		pop();
		if (json_)
			open_.pop_back();
		finish_value();
	}
	void begin_array(const char *key)
	{
		if (json_)
			open_container(key, nlohmann::ordered_json::array());
		array_names_.push_back(key ? key : "");
		push(true);
	}
	void end_array()
	{
		pop();
		array_names_.pop_back();
		if (json_)
			open_.pop_back();
		finish_value();
	}

	void u64(const char *key, uint64_t v)
	{
		if (json_) {
			put(key, v);
		} else {
			text_key(key);
			fprintf(out_, "%" PRIu64 "\n", v);
		}
		finish_value();
	}
	void i64(const char *key, int64_t v)
	{
		if (json_) {
			put(key, v);
		} else {
			text_key(key);
			fprintf(out_, "%" PRId64 "\n", v);
		}
		finish_value();
	}
	// Numbers a person reads in octal or hex (modes, flags); JSON gets the integer.
	void u64_fmt(const char *key, uint64_t v, const char *text_fmt)
	{
		if (json_) {
			u64(key, v);
			return;
		}
		text_key(key);
		fprintf(out_, text_fmt, v);
		fputc('\n', out_);
		finish_value();
	}
	void str(const char *key, const std::string &v)
	{
		if (json_) {
			put(key, v);
		} else {
			text_key(key);
			fprintf(out_, "%s\n", v.c_str());
		}
		finish_value();
	}
	void boolean(const char *key, bool v)
	{
		if (json_) {
			put(key, v);
		} else {
			text_key(key);
			fputs(v ? "yes\n" : "no\n", out_);
		}
		finish_value();
	}
	// A value whose JSON form (a number or null, say) and text form differ; the keys
	// may differ too ("holder_node": 2 / "holder: held by node 2").
	void field(const char *json_key, const nlohmann::ordered_json &v, const char *text_label,
	           const std::string &text)
	{
		if (json_) {
			put(json_key, v);
		} else {
			text_key(text_label);
			fprintf(out_, "%s\n", text.c_str());
		}
		finish_value();
	}
	// Free-form text block (hexdumps): printed as is in text, as a string in JSON.
	void raw_text(const char *key, const std::string &v)
	{
		if (json_) {
			str(key, v);
			return;
		}
		text_key(key);
		fputc('\n', out_);
		fputs(v.c_str(), out_);
		finish_value();
	}
	void done()
	{
		if (json_) {
			// Invalid UTF-8 is replaced rather than thrown on: the rest of the document
			// still describes the filesystem.
			const std::string text =
				root_.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
			fputs(text.c_str(), out_);
			fputc('\n', out_);
		}
		fflush(out_);
	}
	bool json() const { return json_; }

private:
	struct Level {
		bool array;
		unsigned count;
	};
	bool in_array() const { return !levels_.empty() && levels_.back().array; }
	void push(bool array) { levels_.push_back({array, 0}); }
	void pop() { levels_.pop_back(); }
	void finish_value()
	{
		if (!levels_.empty())
			levels_.back().count++;
	}
	void indent()
	{
		size_t depth = 0;
		for (const Level &l : levels_)
			depth += l.array ? 0 : 1;
		for (size_t i = 1; i < depth; i++)
			fputs("  ", out_);
	}
	void heading(const char *key)
	{
		indent();
		if (in_array())
			fprintf(out_, "%s[%u]:\n", array_names_.back().c_str(), levels_.back().count);
		else
			fprintf(out_, "%s:\n", key);
	}
	void text_key(const char *key)
	{
		indent();
		if (in_array())
			fprintf(out_, "%s[%u]: ", array_names_.back().c_str(), levels_.back().count);
		else
			fprintf(out_, "%-20s ", (std::string(key) + ":").c_str());
	}
	// The value goes into the innermost open object (under key) or array (appended);
	// the first value of all becomes the document itself.
	template <class T> void put(const char *key, const T &v)
	{
		if (open_.empty())
			root_ = v;
		else if (open_.back()->is_array())
			open_.back()->push_back(v);
		else
			(*open_.back())[key] = v;
	}
	void open_container(const char *key, nlohmann::ordered_json empty)
	{
		if (open_.empty()) {
			root_ = std::move(empty);
			open_.push_back(&root_);
		} else if (open_.back()->is_array()) {
			open_.back()->push_back(std::move(empty));
			open_.push_back(&open_.back()->back());
		} else {
			nlohmann::ordered_json &slot = (*open_.back())[key];
			slot = std::move(empty);
			open_.push_back(&slot);
		}
	}

	bool json_;
	FILE *out_;
	std::vector<Level> levels_;
	std::vector<std::string> array_names_;
	nlohmann::ordered_json root_;
	// Containers being filled, outermost first. Pointers stay valid: a container is
	// only appended to while it is the innermost open one, never its ancestors.
	std::vector<nlohmann::ordered_json *> open_;
};
