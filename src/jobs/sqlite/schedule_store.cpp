// SPDX-License-Identifier: MIT
// The ScheduleStore of a SqliteStore: the schedules of a Scheduler in the table
// afterwork_schedules of the store's file, through the store's connection and mutex.
#include <afterwork/jobs/sqlite_store.hpp>

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "jobs/sqlite/connection.hpp"
#include "jobs/sqlite/store_state.hpp"

namespace afterwork {

using detail::sqlite::Query;
using detail::sqlite::WriteTransaction;

namespace {
constexpr const char* kSelectSchedules =
    "SELECT id, name, trigger, next_run, last_run, paused FROM afterwork_schedules";
}  // namespace

std::shared_ptr<ScheduleStore> SqliteStore::schedule_store(std::shared_ptr<SqliteStore> store) {
    // A local class: it may name the private State, and needs nothing else of the store.
    class Schedules final : public ScheduleStore {
    public:
        explicit Schedules(std::shared_ptr<SqliteStore> owner) : owner_(std::move(owner)) {}

        std::optional<ScheduleRecord> load(std::string_view id) override {
            auto& state = *owner_->state_;
            std::lock_guard lock(state.mutex);
            Query q(state.connection, std::string(kSelectSchedules) + " WHERE id = ?1");
            q.bind(1, id);
            if (!q.step()) return std::nullopt;
            return read(q);
        }

        std::vector<ScheduleRecord> load_all() override {
            auto& state = *owner_->state_;
            std::lock_guard lock(state.mutex);
            Query q(state.connection, std::string(kSelectSchedules) + " ORDER BY id");
            std::vector<ScheduleRecord> records;
            while (q.step()) records.push_back(read(q));
            return records;
        }

        void save(const std::vector<ScheduleRecord>& records) override {
            auto& state = *owner_->state_;
            std::lock_guard lock(state.mutex);
            WriteTransaction transaction(state.connection);
            for (const auto& record : records) {
                Query q(state.connection,
                        "INSERT INTO afterwork_schedules (id, name, trigger, next_run, last_run, "
                        "paused) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (id) DO UPDATE SET "
                        "name = excluded.name, trigger = excluded.trigger, "
                        "next_run = excluded.next_run, paused = excluded.paused, "
                        // Never back: another process's claim stands.
                        "last_run = CASE WHEN excluded.last_run IS NULL THEN last_run "
                        "WHEN last_run IS NULL THEN excluded.last_run "
                        "ELSE MAX(last_run, excluded.last_run) END");
                q.bind(1, record.id)
                    .bind(2, record.name)
                    .bind(3, record.trigger)
                    .bind(4, record.next_run)
                    .bind(5, record.last_run)
                    .bind(6, record.paused)
                    .run();
            }
            transaction.commit();
        }

        void remove(std::string_view id) override {
            auto& state = *owner_->state_;
            std::lock_guard lock(state.mutex);
            WriteTransaction transaction(state.connection);
            Query q(state.connection, "DELETE FROM afterwork_schedules WHERE id = ?1");
            q.bind(1, id).run();
            transaction.commit();
        }

        std::vector<bool> claim_occurrences(const std::vector<OccurrenceClaim>& claims) override {
            auto& state = *owner_->state_;
            std::lock_guard lock(state.mutex);
            // Under the file's write lock: of the processes sharing the file, exactly one moves
            // a schedule's last_run to an occurrence.
            WriteTransaction transaction(state.connection);
            std::vector<bool> won;
            won.reserve(claims.size());
            for (const auto& claim : claims) {
                Query q(state.connection,
                        "UPDATE afterwork_schedules SET last_run = ?2, next_run = ?3 "
                        "WHERE id = ?1 AND (last_run IS NULL OR last_run < ?2) RETURNING id");
                q.bind(1, claim.id).bind(2, claim.occurrence).bind(3, claim.next);
                const bool claimed = q.step();
                if (claimed) q.run();
                won.push_back(claimed);
            }
            transaction.commit();
            return won;
        }

    private:
        static ScheduleRecord read(const Query& q) {
            return ScheduleRecord{.id = q.text(0),
                                  .name = q.text(1),
                                  .trigger = q.text(2),
                                  .next_run = q.optional_time(3),
                                  .last_run = q.optional_time(4),
                                  .paused = q.integer(5) != 0};
        }

        std::shared_ptr<SqliteStore> owner_;
    };
    return std::make_shared<Schedules>(std::move(store));
}

}  // namespace afterwork
