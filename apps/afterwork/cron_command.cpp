// SPDX-License-Identifier: MIT
#include "cron_command.hpp"

#include <charconv>
#include <chrono>
#include <iostream>
#include <string_view>

#include <fmt/format.h>

#include <afterwork/schedule/cron_expression.hpp>
#include <afterwork/schedule/time_zone.hpp>

namespace afterwork::apps {
namespace {

constexpr int kUsageError = 2;
constexpr long kMaxCount = 10'000;

int fail(std::string_view message) {
    std::cerr << "error: " << message << std::endl;
    return kUsageError;
}

}  // namespace

CronCommand::CronCommand(CLI::App& cli) {
    cron_ = cli.add_subcommand("cron", "Check a cron expression: its next fire times, in words");
    cron_->require_subcommand(1);

    next_ = cron_->add_subcommand("next", "Print the next fire times, one per line (ISO 8601)");
    next_->add_option("expression", expression_, "Cron expression, e.g. \"0 9 * * MON-FRI\"")
        ->required();
    next_->add_option("--tz", zone_, "IANA time zone, e.g. Asia/Kolkata")->capture_default_str();
    next_->add_option("-n,--count", count_, "How many fire times (1-10000)")->capture_default_str();
    next_->add_option(
        "--after", after_, "Start after this instant, ISO 8601 with Z or an offset (default: now)");

    explain_ = cron_->add_subcommand("explain", "Say in words when an expression fires");
    explain_->add_option("expression", expression_, "Cron expression")->required();
}

int CronCommand::run() const {
    if (next_->parsed()) return next();
    if (explain_->parsed()) return explain();
    return kUsageError;
}

int CronCommand::next() const {
    auto expression = CronExpression::try_parse(expression_);
    if (!expression) {
        return fail(fmt::format(
            "invalid cron expression \"{}\": {}", expression_, expression.error().what()));
    }
    auto zone = TimeZone::try_locate(zone_);
    if (!zone) return fail(zone.error().what());

    long count = 0;
    const auto* end = count_.data() + count_.size();
    const auto [ptr, ec] = std::from_chars(count_.data(), end, count);
    if (ec != std::errc{} || ptr != end || count < 1 || count > kMaxCount) {
        return fail(fmt::format(
            "count must be a whole number from 1 to {}, got \"{}\"", kMaxCount, count_));
    }

    auto after = std::chrono::system_clock::now();
    if (!after_.empty()) {
        auto parsed = try_parse_iso8601(after_);
        if (!parsed) return fail(parsed.error().what());
        after = *parsed;
    }

    std::string out;
    for (long i = 0; i < count; ++i) {
        const auto fire = expression->next_after(after, *zone);
        if (!fire) break;
        out += format_iso8601(*fire, *zone);
        out += '\n';
        after = *fire;
    }
    std::cout << out << std::flush;
    return 0;
}

int CronCommand::explain() const {
    auto expression = CronExpression::try_parse(expression_);
    if (!expression) {
        return fail(fmt::format(
            "invalid cron expression \"{}\": {}", expression_, expression.error().what()));
    }
    std::cout << afterwork::explain(*expression) << std::endl;
    return 0;
}

}  // namespace afterwork::apps
