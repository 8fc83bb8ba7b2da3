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
    for (const auto& record : records) records_.insert_or_assign(record.id, record);
}

void MemoryScheduleStore::remove(std::string_view id) {
    std::lock_guard lock(mutex_);
    if (auto found = records_.find(id); found != records_.end()) records_.erase(found);
}

}  // namespace afterwork
