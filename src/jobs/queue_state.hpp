// SPDX-License-Identifier: MIT
#pragma once

// What a Queue shares with the workers of this process: the store, the clock, the definitions
// and the workers to wake after an enqueue or to tell about a cancel. Guarded by `mutex`;
// definitions are immutable once added (shared_ptr<const>), so a worker copies the pointer
// and runs without the lock.

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <afterwork/jobs/queue.hpp>

namespace afterwork::detail {

/// How a queue reaches a worker of this process. Thread-safe.
class WorkerLink {
public:
    virtual ~WorkerLink() = default;
    /// Jobs may be claimable: an idle worker looks at once.
    virtual void wake() noexcept = 0;
    /// `id` was cancelled: if it runs here, cancel its handler now.
    virtual void cancel_local(JobId id) noexcept = 0;
};

struct QueueState {
    std::shared_ptr<Store> store;
    std::shared_ptr<Clock> clock;

    mutable std::mutex mutex;  // definitions, workers
    std::map<std::string, std::shared_ptr<const detail::JobDefinition>, std::less<>> definitions;
    std::vector<std::weak_ptr<detail::WorkerLink>> workers;

    TimePoint now() const { return clock->now(); }
    std::shared_ptr<const detail::JobDefinition> find(std::string_view name) const {
        std::lock_guard lock(mutex);
        auto found = definitions.find(name);
        return found == definitions.end() ? nullptr : found->second;
    }
    std::vector<RateLimit> rate_limits() const;
    void add_worker(std::weak_ptr<detail::WorkerLink> worker);
    void wake_workers() const noexcept;
    void cancel_local(JobId id) const noexcept;
};

}  // namespace afterwork::detail
