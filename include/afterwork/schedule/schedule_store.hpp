// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Where a `Scheduler` keeps its schedules across restarts: `ScheduleStore` (the interface the
/// durable stores implement) and `MemoryScheduleStore` (one process; tests, and schedulers that
/// share it to act out a restart).
///
/// What is kept is what a restart needs to neither lose nor repeat an occurrence: the trigger
/// (its string form), the next occurrence not yet fired, the last one fired and whether the
/// schedule is paused. Functions are code, not data: after a restart the program adds its
/// schedules again under the same ids, and the scheduler resumes each from its record when the
/// trigger is unchanged (a changed trigger starts afresh). Occurrences that came due while the
/// process was down are handled by the schedule's misfire grace and coalescing like any late
/// run.
///
/// Each occurrence fires once across every scheduler sharing a store — processes on one SQLite
/// file, or on one Redis: before it runs an occurrence, a scheduler claims it with
/// `claim_occurrences` (schedule id + fire time), an atomic compare-and-set on the record's last
/// fired occurrence, and only the one that moved it runs. No leader is elected: any scheduler
/// can fire any occurrence, and one that stops leaves nothing to hand over. Claimed before the
/// run starts, an occurrence is not repeated by a crash during its run either (at most once
/// per occurrence per store).
///
/// @par Thread safety
/// Implementations are thread-safe. The scheduler calls them on the blocking pool, never on a
/// loop thread, so an implementation may block (a database write).

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <afterwork/schedule/trigger.hpp>

namespace afterwork {

/// One schedule's persisted record.
struct ScheduleRecord {
    std::string id;
    std::string name;
    std::string trigger;                ///< `Trigger::to_string()`
    std::optional<TimePoint> next_run;  ///< the next occurrence not yet fired; none when paused
    std::optional<TimePoint> last_run;  ///< the last occurrence fired (its nominal time)
    bool paused = false;

    friend bool operator==(const ScheduleRecord&, const ScheduleRecord&) = default;
};

/// One occurrence a scheduler is about to run: schedule id + fire time, and the next
/// occurrence to record with it.
struct OccurrenceClaim {
    std::string id;
    TimePoint occurrence;
    std::optional<TimePoint> next;
};

class ScheduleStore {
public:
    ScheduleStore() = default;
    ScheduleStore(const ScheduleStore&) = delete;
    ScheduleStore& operator=(const ScheduleStore&) = delete;
    virtual ~ScheduleStore() = default;

    /// The record of `id`, if any. Throws on a store failure.
    virtual std::optional<ScheduleRecord> load(std::string_view id) = 0;
    /// Every record, ordered by id.
    virtual std::vector<ScheduleRecord> load_all() = 0;
    /// Inserts or replaces the records (all or none). A record's last fired occurrence never
    /// moves back: a scheduler saving what it knew does not undo another's claim.
    virtual void save(const std::vector<ScheduleRecord>& records) = 0;
    /// Claims each occurrence, in order and in one write: a claim is won by exactly one caller
    /// per occurrence among all that share the store, which then records it as the schedule's
    /// last fired one and its `next` as the next; it is lost when that occurrence, or a later
    /// one, was claimed already or there is no record. Says which were won.
    virtual std::vector<bool> claim_occurrences(const std::vector<OccurrenceClaim>& claims) = 0;
    /// Deletes the record of `id`; nothing happens when there is none.
    virtual void remove(std::string_view id) = 0;
};

class MemoryScheduleStore final : public ScheduleStore {
public:
    std::optional<ScheduleRecord> load(std::string_view id) override;
    std::vector<ScheduleRecord> load_all() override;
    void save(const std::vector<ScheduleRecord>& records) override;
    void remove(std::string_view id) override;
    std::vector<bool> claim_occurrences(const std::vector<OccurrenceClaim>& claims) override;

private:
    std::mutex mutex_;
    std::map<std::string, ScheduleRecord, std::less<>> records_;
};

}  // namespace afterwork
