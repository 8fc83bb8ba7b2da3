// SPDX-License-Identifier: MIT
#pragma once

// testing::settle: lets a loop run everything already queued on it (twice over, so what
// that work posts in turn runs too). With a manual clock, "nothing happened" is then a fact
// about the code, not about how long the test slept: after `clock.advance(9s)` and
// `settle(loop)`, a run due in 10 s has had every chance to start and did not.

#include <afterwork/runtime/loop.hpp>
#include <afterwork/runtime/task.hpp>
#include <afterwork/runtime/task_handle.hpp>

namespace afterwork::testing {

inline Task<void> settle_turn() { co_return; }

inline void settle(Loop& loop, int turns = 3) {
    for (int i = 0; i < turns; ++i) spawn(loop.executor(), settle_turn()).get();
}

}  // namespace afterwork::testing
