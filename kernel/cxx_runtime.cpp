// SPDX-License-Identifier: GPL-2.0
/*
 * operator new/delete for the C++ parts of clusterfs.ko. Every form the compiler can
 * emit is defined (plain, array, sized delete from virtual destructors, nothrow,
 * align_val_t for over-aligned types under -faligned-new=8): a missing one would be an
 * undefined symbol caught by scripts/check-cxx-object.sh. Without exceptions a failed
 * allocation returns nullptr; -fcheck-new makes the compiler test it before constructing.
 */
#include <cstddef>
#include <new>

#include "cxx_support.h"

namespace {
constexpr std::size_t kDefaultAlign = 8;  // -faligned-new=8 sends anything larger to align_val_t

void *allocate(std::size_t size, std::size_t align) noexcept
{
	return clusterfs_cxx_alloc(size, align);
}
}  // namespace

// libsupc++ normally defines the tag object; the module has no libsupc++.
namespace std {
const nothrow_t nothrow{};
}

void *operator new(std::size_t size) { return allocate(size, kDefaultAlign); }
void *operator new[](std::size_t size) { return allocate(size, kDefaultAlign); }
void *operator new(std::size_t size, const std::nothrow_t &) noexcept { return allocate(size, kDefaultAlign); }
void *operator new[](std::size_t size, const std::nothrow_t &) noexcept { return allocate(size, kDefaultAlign); }
void *operator new(std::size_t size, std::align_val_t align) { return allocate(size, static_cast<std::size_t>(align)); }
void *operator new[](std::size_t size, std::align_val_t align) { return allocate(size, static_cast<std::size_t>(align)); }
void *operator new(std::size_t size, std::align_val_t align, const std::nothrow_t &) noexcept
{
	return allocate(size, static_cast<std::size_t>(align));
}
void *operator new[](std::size_t size, std::align_val_t align, const std::nothrow_t &) noexcept
{
	return allocate(size, static_cast<std::size_t>(align));
}

void operator delete(void *ptr) noexcept { clusterfs_cxx_free(ptr); }
void operator delete[](void *ptr) noexcept { clusterfs_cxx_free(ptr); }
void operator delete(void *ptr, std::size_t) noexcept { clusterfs_cxx_free(ptr); }
void operator delete[](void *ptr, std::size_t) noexcept { clusterfs_cxx_free(ptr); }
void operator delete(void *ptr, const std::nothrow_t &) noexcept { clusterfs_cxx_free(ptr); }
void operator delete[](void *ptr, const std::nothrow_t &) noexcept { clusterfs_cxx_free(ptr); }
void operator delete(void *ptr, std::align_val_t) noexcept { clusterfs_cxx_free(ptr); }
void operator delete[](void *ptr, std::align_val_t) noexcept { clusterfs_cxx_free(ptr); }
void operator delete(void *ptr, std::size_t, std::align_val_t) noexcept { clusterfs_cxx_free(ptr); }
void operator delete[](void *ptr, std::size_t, std::align_val_t) noexcept { clusterfs_cxx_free(ptr); }
void operator delete(void *ptr, std::align_val_t, const std::nothrow_t &) noexcept { clusterfs_cxx_free(ptr); }
void operator delete[](void *ptr, std::align_val_t, const std::nothrow_t &) noexcept { clusterfs_cxx_free(ptr); }
