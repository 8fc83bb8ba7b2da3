// SPDX-License-Identifier: MIT
#pragma once

// `store_call(store, f, args...)`: runs a store operation from a coroutine — on the blocking
// pool when the store may block (SQLite, Redis), inline on the caller's loop when it does not
// (memory), which is what `Store::blocks()` says.
//
// The wait is not cut short by a cancellation of the caller: a store operation is short (the
// store's busy timeout bounds it) and its outcome matters (a claim, a completion, a requeue),
// so a cancelled caller sees it through and is cancelled at its next suspension point. It also
// means no store call is still running on the pool after the task that made it has ended — the
// worker's stop, and a process exit after it, find nothing in flight.

#include <utility>

#include <afterwork/jobs/store.hpp>
#include <afterwork/runtime/offload.hpp>

namespace afterwork::detail {

template <class F, class... Args>
Task<OffloadResult<F, Args...>> store_call(const Store& store, F f, Args... args) {
    if (!store.blocks()) co_return f(std::move(args)...);
    // A named task: g++ 12 mishandles temporaries made inside a co_await expression.
    auto offloaded = offload<false>(default_blocking_pool(), std::move(f), std::move(args)...);
    co_return co_await std::move(offloaded);
}

}  // namespace afterwork::detail
