// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `MemoryStore`: the `Store` kept in this process's memory — for tests, for work that need
/// not survive a restart, and as the reference the other stores are compared with.
///
/// Built for the hot path of a queue (enqueue, claim, complete): a job is found by id in a
/// hash table; claim order, due times, leases and expiry are binary heaps whose stale entries
/// are skipped when they reach the top (a state change pushes one entry and searches nothing);
/// listing by state walks a bitmap of ids, by queue or name an append-only id log. So claim,
/// promotion, lease expiry and purge cost O(log n) per job, a state change O(1) plus a heap
/// push, and counts are kept as jobs change state. Memory is what the jobs it holds need: the
/// heaps and logs are compacted once stale entries could be most of them, and purged ids at
/// the old end of the bitmaps are dropped.
///
/// It never fails with a storage error; everything else behaves as `Store` documents.
///
/// @par Thread safety
/// Thread-safe: one mutex guards the whole store, so each operation is atomic.

#include <memory>
#include <string>

#include <afterwork/jobs/store.hpp>

namespace afterwork {

class MemoryStore final : public Store {
public:
    MemoryStore();
    MemoryStore(const MemoryStore&) = delete;
    MemoryStore& operator=(const MemoryStore&) = delete;
    ~MemoryStore() override;

    std::string describe() const override;
    /// Never: every call is a short critical section in memory.
    bool blocks() const noexcept override { return false; }

    using Store::enqueue;
    [[nodiscard]] JobsResult<std::vector<EnqueueOutcome>> enqueue(std::span<const NewJob> jobs,
                                                                  TimePoint now) override;
    [[nodiscard]] JobsResult<std::vector<JobRecord>> claim(const ClaimRequest& request) override;
    [[nodiscard]] JobsResult<std::vector<LeaseStatus>> heartbeat(std::string_view worker_id,
                                                                 std::span<const JobId> ids,
                                                                 TimePoint lease_until) override;
    [[nodiscard]] JobsResult<void> set_progress(JobId id,
                                                std::string_view worker_id,
                                                double fraction,
                                                std::string_view message) override;
    [[nodiscard]] JobsResult<std::vector<JobsResult<void>>> complete_many(
        std::string_view worker_id,
        std::span<const Completion> completions,
        TimePoint now) override;
    [[nodiscard]] JobsResult<JobState> fail(JobId id,
                                            std::string_view worker_id,
                                            std::string_view message,
                                            TimePoint now,
                                            std::optional<TimePoint> retry_at,
                                            std::optional<TimePoint> expires_at) override;
    [[nodiscard]] JobsResult<void> mark_cancelled(JobId id,
                                                  std::string_view worker_id,
                                                  TimePoint now,
                                                  std::optional<TimePoint> expires_at) override;
    [[nodiscard]] JobsResult<std::size_t> release(std::string_view worker_id,
                                                  std::span<const JobId> ids,
                                                  TimePoint now) override;
    [[nodiscard]] JobsResult<ExpiredLeases> requeue_expired(
        TimePoint now, std::optional<TimePoint> dead_expires_at) override;
    [[nodiscard]] JobsResult<std::optional<TimePoint>> next_due_at() const override;
    [[nodiscard]] JobsResult<JobState> cancel(JobId id,
                                              TimePoint now,
                                              std::optional<TimePoint> expires_at) override;
    [[nodiscard]] JobsResult<void> retry(JobId id, TimePoint now) override;
    [[nodiscard]] JobsResult<void> remove(JobId id, bool force) override;
    [[nodiscard]] JobsResult<std::size_t> purge(TimePoint now, std::size_t limit) override;
    /// Walks every job: O(n log limit) per call.
    [[nodiscard]] JobsResult<std::size_t> purge_finished(TimePoint finished_before,
                                                         std::span<const JobState> states,
                                                         std::size_t limit) override;
    [[nodiscard]] JobsResult<JobRecord> get(JobId id) const override;
    [[nodiscard]] JobsResult<JobPage> list(const JobFilter& filter,
                                           const PageRequest& page) const override;
    [[nodiscard]] JobsResult<std::vector<QueueCounts>> counts() const override;

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace afterwork
