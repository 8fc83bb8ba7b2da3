// SPDX-License-Identifier: MIT
#pragma once

// Stores for the queue and worker tests: every test runs on the memory store and, when built
// with SQLite, on a SQLite file in a fresh temporary folder.

#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include <gtest/gtest.h>

#include <afterwork/jobs/memory_store.hpp>
#if AFTERWORK_WITH_SQLITE
#include <afterwork/jobs/sqlite_store.hpp>
#endif

#include "support/process.hpp"

namespace afterwork::testing {

class StoreTest : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override { store_ = make_store(); }
    void TearDown() override {
        store_.reset();
        dir_.reset();
    }

    /// Another handle on the same jobs: the same object for memory, a second connection (as
    /// another process would have) for SQLite.
    std::shared_ptr<Store> second_store() {
#if AFTERWORK_WITH_SQLITE
        if (GetParam() == "sqlite") {
            return std::shared_ptr<Store>(SqliteStore::open(dir_->path() / "jobs.db").value());
        }
#endif
        return store_;
    }

    std::shared_ptr<Store> make_store() {
#if AFTERWORK_WITH_SQLITE
        if (GetParam() == "sqlite") {
            dir_.emplace(testing::free_data_dir("afterwork-queue"));
            return std::shared_ptr<Store>(SqliteStore::open(dir_->path() / "jobs.db").value());
        }
#endif
        return std::make_shared<MemoryStore>();
    }

    std::int64_t total_jobs() {
        std::int64_t total = 0;
        for (const auto& queue : store_->counts().value()) total += queue.total();
        return total;
    }

    std::shared_ptr<Store> store_;
    std::optional<testing::TempDir> dir_;
};

inline std::vector<std::string> store_kinds() {
#if AFTERWORK_WITH_SQLITE
    return {"memory", "sqlite"};
#else
    return {"memory"};
#endif
}

}  // namespace afterwork::testing
