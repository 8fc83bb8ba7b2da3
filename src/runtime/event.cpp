// SPDX-License-Identifier: MIT
#include <afterwork/runtime/event.hpp>

namespace afterwork {

void Event::set() noexcept {
    // Under the lock: a waiter checks the flag and queues itself under it too, so it either
    // sees the flag or is queued before the wake-up.
    std::lock_guard lock(mutex_);
    set_.store(true, std::memory_order_release);
    queue_.wake_all();
}

void Event::clear() noexcept { set_.store(false, std::memory_order_release); }

}  // namespace afterwork
