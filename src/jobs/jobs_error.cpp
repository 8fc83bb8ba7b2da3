// SPDX-License-Identifier: MIT
#include <afterwork/jobs/jobs_error.hpp>

namespace afterwork {
namespace {

// boost::system::error_category's destructor is protected and deliberately not virtual
// (categories are never deleted through a base pointer), which -Wnon-virtual-dtor flags.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class JobsCategory final : public boost::system::error_category {
public:
    // A fixed id so the category compares equal across shared libraries.
    constexpr JobsCategory() noexcept : error_category(0xa7e4'10b5'5c4e'd02eULL) {}

    const char* name() const noexcept override { return "afterwork.jobs"; }

    std::string message(int value) const override {
        switch (static_cast<JobsErrc>(value)) {
            case JobsErrc::not_found:
                return "job not found";
            case JobsErrc::duplicate:
                return "duplicate unique key";
            case JobsErrc::invalid_state:
                return "invalid job state for this operation";
            case JobsErrc::lease_lost:
                return "lease lost";
            case JobsErrc::invalid_argument:
                return "invalid argument";
            case JobsErrc::busy:
                return "store busy";
            case JobsErrc::corrupt:
                return "store corrupt";
            case JobsErrc::read_only:
                return "store read-only";
            case JobsErrc::full:
                return "store full";
            case JobsErrc::io_error:
                return "store I/O error";
            case JobsErrc::unavailable:
                return "store unavailable";
            case JobsErrc::version_mismatch:
                return "store schema version mismatch";
        }
        return "unknown jobs error";
    }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& jobs_category() noexcept {
    static const JobsCategory category;
    return category;
}

boost::system::error_code make_error_code(JobsErrc e) noexcept {
    return {static_cast<int>(e), jobs_category()};
}

void throw_exception_from_error(const JobsError& error, const boost::source_location&) {
    throw error;
}

}  // namespace afterwork
