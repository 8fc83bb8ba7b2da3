// SPDX-License-Identifier: MIT
#pragma once

// Stores for the queue and worker tests: every test runs on the memory store and, when built
// with SQLite, on a SQLite file in a fresh temporary folder.

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>

#include <gtest/gtest.h>

#include <afterwork/jobs/memory_store.hpp>
#if AFTERWORK_WITH_SQLITE
#include <afterwork/jobs/sqlite_store.hpp>
#endif

namespace afterwork::testing {

class StoreTest : public ::testing::TestWithParam<std::string> {
protected:
    void SetUp() override { store_ = make_store(); }
    void TearDown() override {
        store_.reset();
        if (!dir_.empty()) std::filesystem::remove_all(dir_);
    }

    /// Another handle on the same jobs: the same object for memory, a second connection (as
    /// another process would have) for SQLite.
    std::shared_ptr<Store> second_store() {
#if AFTERWORK_WITH_SQLITE
        if (GetParam() == "sqlite") {
            return std::shared_ptr<Store>(SqliteStore::open(dir_ / "jobs.db").value());
        }
#endif
        return store_;
    }

    std::shared_ptr<Store> make_store() {
#if AFTERWORK_WITH_SQLITE
        if (GetParam() == "sqlite") {
            std::string pattern =
                std::filesystem::temp_directory_path() / "afterwork-queue-XXXXXX";
            if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
            dir_ = pattern;
            return std::shared_ptr<Store>(SqliteStore::open(dir_ / "jobs.db").value());
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
    std::filesystem::path dir_;
};

inline std::vector<std::string> store_kinds() {
#if AFTERWORK_WITH_SQLITE
    return {"memory", "sqlite"};
#else
    return {"memory"};
#endif
}

}  // namespace afterwork::testing
