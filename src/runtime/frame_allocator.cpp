// SPDX-License-Identifier: MIT
// Coroutine frames recycled per thread. A task spawns, awaits and ends many short coroutines
// of a few sizes; keeping a bounded stack of freed frames per size class turns most of their
// malloc/free pairs into a pointer push and pop. The caches are bounded (memory stays flat)
// and a frame freed on another thread simply joins that thread's cache.

#include <array>
#include <cstdint>
#include <cstddef>
#include <cstdlib>
#include <new>

#include <afterwork/runtime/task.hpp>

namespace afterwork::detail {

namespace {

// Under AddressSanitizer every frame goes straight to malloc and free, so a frame used after
// it was freed is reported instead of silently recycled.
#if defined(__SANITIZE_ADDRESS__)
constexpr bool kRecycle = false;
#else
constexpr bool kRecycle = true;
#endif

constexpr std::size_t kGranule = 16;
constexpr std::size_t kClasses = 64;            // frames up to 1 KiB are recycled
// At most 16 KiB of free frames per size class (4 frames of the largest, 64 of small ones).
constexpr std::size_t cached_per_class(std::size_t index) noexcept {
    const std::size_t frames = 16'384 / ((index + 1) * 16);
    return frames < 4 ? 4 : (frames > 64 ? 64 : frames);
}

struct FreeFrame {
    FreeFrame* next;
};

struct FrameCache {
    std::array<FreeFrame*, kClasses> first{};
    std::array<std::uint16_t, kClasses> count{};

    ~FrameCache() {
        for (auto* frame : first) {
            while (frame) {
                auto* next = frame->next;
                std::free(frame);
                frame = next;
            }
        }
        first.fill(nullptr);
        alive = false;
    }
    // Trivially destroyed, so still readable while other thread_locals are destroyed.
    static thread_local bool alive;
};
thread_local bool FrameCache::alive = true;
thread_local FrameCache cache;

std::size_t class_of(std::size_t size) noexcept { return (size + kGranule - 1) / kGranule - 1; }

}  // namespace

void* allocate_frame(std::size_t size) {
    const std::size_t index = class_of(size);
    if (kRecycle && index < kClasses) {
        if (FrameCache::alive) {
            if (FreeFrame* frame = cache.first[index]) {
                cache.first[index] = frame->next;
                --cache.count[index];
                return frame;
            }
        }
        // Always the class's full size (also once this thread's cache is gone): the frame may
        // be freed into another thread's cache and serve any size of its class later.
        size = (index + 1) * kGranule;
    }
    if (void* frame = std::malloc(size)) return frame;
    throw std::bad_alloc();
}

void deallocate_frame(void* frame, std::size_t size) noexcept {
    const std::size_t index = class_of(size);
    if (kRecycle && index < kClasses && FrameCache::alive &&
        cache.count[index] < cached_per_class(index)) {
        auto* node = static_cast<FreeFrame*>(frame);
        node->next = cache.first[index];
        cache.first[index] = node;
        ++cache.count[index];
        return;
    }
    std::free(frame);
}

}  // namespace afterwork::detail
