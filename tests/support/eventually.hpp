// SPDX-License-Identifier: MIT
#pragma once

// testing::eventually: polls a condition under a deadline — the way tests wait for something
// that happens on another thread, instead of sleeping a fixed time.

#include <chrono>
#include <thread>

namespace afterwork::testing {

template <class Predicate>
bool eventually(Predicate predicate,
                std::chrono::steady_clock::duration limit = std::chrono::seconds(10),
                std::chrono::steady_clock::duration every = std::chrono::milliseconds(1)) {
    for (auto deadline = std::chrono::steady_clock::now() + limit;
         std::chrono::steady_clock::now() < deadline;) {
        if (predicate()) return true;
        std::this_thread::sleep_for(every);
    }
    return predicate();
}

}  // namespace afterwork::testing
