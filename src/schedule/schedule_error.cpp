// SPDX-License-Identifier: MIT
#include <afterwork/schedule/schedule_error.hpp>

namespace afterwork {
namespace {

// boost::system::error_category's destructor is protected and deliberately not virtual
// (categories are never deleted through a base pointer), which -Wnon-virtual-dtor flags.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class ScheduleCategory final : public boost::system::error_category {
public:
    // A fixed id so the category compares equal across shared libraries.
    constexpr ScheduleCategory() noexcept : error_category(0xa7e4'c10c'5c4e'd01eULL) {}

    const char* name() const noexcept override { return "afterwork.schedule"; }

    std::string message(int value) const override {
        switch (static_cast<ScheduleErrc>(value)) {
            case ScheduleErrc::invalid_cron:
                return "invalid cron expression";
            case ScheduleErrc::unknown_time_zone:
                return "unknown time zone";
            case ScheduleErrc::invalid_interval:
                return "invalid interval";
            case ScheduleErrc::invalid_time:
                return "invalid time";
            case ScheduleErrc::invalid_trigger:
                return "invalid trigger";
            case ScheduleErrc::duplicate_schedule:
                return "duplicate schedule id";
            case ScheduleErrc::unknown_schedule:
                return "unknown schedule id";
            case ScheduleErrc::invalid_option:
                return "invalid schedule option";
        }
        return "unknown schedule error";
    }
};
#pragma GCC diagnostic pop

}  // namespace

const boost::system::error_category& schedule_category() noexcept {
    static const ScheduleCategory category;
    return category;
}

boost::system::error_code make_error_code(ScheduleErrc e) noexcept {
    return {static_cast<int>(e), schedule_category()};
}

void throw_exception_from_error(const ScheduleError& error, const boost::source_location&) {
    throw error;
}

}  // namespace afterwork
