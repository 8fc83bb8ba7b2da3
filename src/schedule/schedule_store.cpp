// SPDX-License-Identifier: MIT
#include <afterwork/schedule/schedule_store.hpp>

namespace afterwork {

std::optional<ScheduleRecord> MemoryScheduleStore::load(std::string_view id) {
    std::lock_guard lock(mutex_);
    auto found = records_.find(id);
    if (found == records_.end()) return std::nullopt;
    return found->second;
}

std::vector<ScheduleRecord> MemoryScheduleStore::load_all() {
    std::lock_guard lock(mutex_);
    std::vector<ScheduleRecord> records;
    records.reserve(records_.size());
    for (const auto& [id, record] : records_) records.push_back(record);
    return records;
}

void MemoryScheduleStore::save(const std::vector<ScheduleRecord>& records) {
    std::lock_guard lock(mutex_);
    for (const auto& record : records) {
        ScheduleRecord saved = record;
        if (auto found = records_.find(record.id); found != records_.end()) {
            const auto& kept = found->second.last_run;
            if (kept && (!saved.last_run || *saved.last_run < *kept)) saved.last_run = kept;
        }
        records_.insert_or_assign(record.id, std::move(saved));
    }
}

std::vector<bool> MemoryScheduleStore::claim_occurrences(
    const std::vector<OccurrenceClaim>& claims) {
    std::lock_guard lock(mutex_);
    std::vector<bool> won;
    won.reserve(claims.size());
    for (const auto& claim : claims) {
        auto found = records_.find(claim.id);
        auto* record = found == records_.end() ? nullptr : &found->second;
        const bool claimed =
            record && (!record->last_run || *record->last_run < claim.occurrence);
        if (claimed) {
            record->last_run = claim.occurrence;
            record->next_run = claim.next;
        }
        won.push_back(claimed);
    }
    return won;
}

void MemoryScheduleStore::remove(std::string_view id) {
    std::lock_guard lock(mutex_);
    if (auto found = records_.find(id); found != records_.end()) records_.erase(found);
}

}  // namespace afterwork
