// SPDX-License-Identifier: MIT
#include "jobs_command.hpp"

#include <fmt/format.h>

#include <afterwork/jobs/job.hpp>
#include <afterwork/jobs/store.hpp>
#include <afterwork/jobs/store_url.hpp>
#include <afterwork/schedule/time_zone.hpp>
#include <algorithm>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/stream_parser.hpp>
#include <charconv>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <set>
#include <string_view>
#include <system_error>
#include <thread>
#include <utility>
#if AFTERWORK_WITH_SQLITE
#include <afterwork/jobs/job_json.hpp>
#include <afterwork/jobs/sqlite_store.hpp>
#endif

#include "terminal.hpp"

namespace afterwork::apps {
namespace {

using namespace std::chrono_literals;

constexpr int kFailure = 1;
constexpr int kUsageError = 2;
// One purge transaction deletes at most this many jobs, so writers of other
// processes wait for the lock a few milliseconds at a time, not for the whole
// purge.
constexpr std::size_t kPurgeBatch = 1000;
constexpr auto kFollowInterval = 200ms;
// How long a job cancelled from here stays visible: the queue's default for
// cancelled and dead jobs (DefinitionOptions::finished_ttl), which this command
// cannot look up because the definitions live in the serving process.
constexpr auto kCancelledTtl = std::chrono::hours(24 * 7);
constexpr std::int64_t kMaxBusyTimeoutMs = 600'000;
constexpr double kMaxDelaySeconds = 100.0 * 365 * 24 * 3600;

// Ends the command: `message` goes to stderr as "error: ..." and `code` is the
// exit code. Thrown from deep in a subcommand and caught once in run(), so
// every path prints the same way.
struct CommandFailure {
    int code = kFailure;
    std::string message;
};

[[noreturn]] void usage_error(std::string message) {
    throw CommandFailure{kUsageError, std::move(message)};
}

// The value of `result`, or a CommandFailure with the store's message: a
// malformed argument is a usage error (2), everything else — unknown ids, wrong
// states, storage — exits 1.
template <class T>
T take(JobsResult<T> result) {
    if (result) return std::move(*result);
    throw CommandFailure{
        result.error().code() == JobsErrc::invalid_argument ? kUsageError : kFailure,
        result.error().what()};
}

template <class Int>
std::optional<Int> parse_integer(std::string_view text) {
    Int value{};
    const char* end = text.data() + text.size();
    const auto [ptr, ec] = std::from_chars(text.data(), end, value);
    if (ec != std::errc{} || ptr != end || text.empty()) return std::nullopt;
    return value;
}

JobId parse_id(std::string_view text) {
    const auto id = parse_integer<JobId>(text);
    if (!id || *id < 1) {
        usage_error(fmt::format("\"{}\" is not a job id (a whole number from 1)", text));
    }
    return *id;
}

int parse_in_range(std::string_view what, const std::string& text, int low, int high) {
    const auto value = parse_integer<int>(text);
    if (!value || *value < low || *value > high) {
        usage_error(fmt::format(
            "{} must be a whole number from {} to {}, got \"{}\"", what, low, high, text));
    }
    return *value;
}

// "2026-05-01T09:30:00Z": whole seconds, for tables.
std::string format_seconds(TimePoint t) {
    return format_iso8601(std::chrono::floor<std::chrono::seconds>(t));
}

std::string format_optional(const std::optional<TimePoint>& t) {
    return t ? format_iso8601(*t) : std::string("-");
}

int percent(double fraction) {
    return static_cast<int>(std::floor(std::clamp(fraction, 0.0, 1.0) * 100.0));
}

// ---- the store
// --------------------------------------------------------------------------

enum class Access {
    read,    // ls, show: read-only, the file must exist
    write,   // cancel, retry, purge: the file must exist
    create,  // enqueue: the data folder and the file are created when missing
};

struct StoreLocation {
    std::filesystem::path path;
    std::chrono::milliseconds busy_timeout{0};
};

std::filesystem::path sqlite_path_of(std::string_view url) {
    auto parsed = parse_store_url(url);
    if (!parsed) usage_error(parsed.error().what());
    if (parsed->kind != StoreUrl::Kind::sqlite) {
        usage_error(fmt::format("store URL \"{}\": this build has no Redis store; use "
                                "sqlite:///absolute/path.db or sqlite:relative/path.db",
                                parsed->redacted()));
    }
    return parsed->path;
}

std::unique_ptr<Store> open_store(const StoreLocation& where, Access access) {
#if AFTERWORK_WITH_SQLITE
    std::error_code ec;
    if (access == Access::create) {
        const auto folder = where.path.parent_path();
        if (!folder.empty() && !std::filesystem::is_directory(folder, ec)) {
            std::filesystem::create_directories(folder, ec);
            if (ec) {
                throw CommandFailure{
                    kFailure,
                    fmt::format(
                        "cannot create the data folder {}: {}", folder.string(), ec.message())};
            }
        }
    } else if (!std::filesystem::exists(where.path, ec)) {
        // Checked here rather than left to SQLite so the message says what to do.
        throw CommandFailure{kFailure,
                             fmt::format("no job store at {}: the file does not exist (choose the "
                                         "data folder with --data-dir or the file with --store)",
                                         where.path.string())};
    }
    auto store = take(SqliteStore::open(where.path,
                                        {.busy_timeout = where.busy_timeout,
                                         .read_only = access == Access::read,
                                         .create = access == Access::create}));
    return store;
#else
    (void)access;
    throw CommandFailure{kFailure,
                         fmt::format("cannot open {}: this afterwork was built without SQLite "
                                     "(AFTERWORK_WITH_SQLITE=OFF)",
                                     where.path.string())};
#endif
}

// Whether `store` reads a snapshot that never changes: a read-only open of a
// file whose folder cannot be written (SqliteStore::immutable).
bool is_snapshot(const Store& store) {
#if AFTERWORK_WITH_SQLITE
    const auto* sqlite = dynamic_cast<const SqliteStore*>(&store);
    return sqlite != nullptr && sqlite->immutable();
#else
    (void)store;
    return false;
#endif
}

// ---- printing jobs (the JSON shape is job_json.hpp's, as the REST API's) ----------------

std::string jobs_table(const std::vector<JobRecord>& jobs, std::size_t width) {
    const std::vector<Column> columns = {
        {"ID", true},
        {"NAME", false, 8},
        {"QUEUE", false, 7},
        {"STATE"},
        {"ATTEMPT", true},
        {"PROGRESS", true},
        {"RUN AT / FINISHED"},
        {"ERROR", false, 5},
    };
    std::vector<std::vector<std::string>> rows;
    rows.reserve(jobs.size());
    for (const JobRecord& job : jobs) {
        const bool shows_progress = job.state == JobState::running || job.progress > 0.0;
        // A succeeded job's earlier failures are history (`show` has them), not its
        // outcome.
        const bool shows_error = !job.errors.empty() && job.state != JobState::succeeded;
        rows.push_back({
            std::to_string(job.id),
            printable(job.name),
            printable(job.queue),
            std::string(to_string(job.state)),
            fmt::format("{}/{}", job.attempt, job.max_attempts),
            shows_progress ? fmt::format("{}%", percent(job.progress)) : std::string(),
            format_seconds(job.finished_at.value_or(job.run_at)),
            shows_error ? printable(job.errors.back().message) : std::string(),
        });
    }
    return render_table(columns, rows, width);
}

std::string details(const JobRecord& job) {
    std::string out;
    const auto field = [&out](std::string_view key, std::string_view value) {
        out += fmt::format("{:<13}{}\n", key, value);
    };
    field("id", std::to_string(job.id));
    field("name", printable(job.name));
    field("queue", printable(job.queue));
    field("state",
          job.cancel_requested && job.state == JobState::running
              ? "running (cancel requested)"
              : std::string(to_string(job.state)));
    field("priority", std::to_string(job.priority));
    field("attempt", fmt::format("{} of {}", job.attempt, job.max_attempts));
    field("unique key", job.unique_key ? printable(*job.unique_key) : "-");
    field("created at", format_iso8601(job.created_at));
    field("run at", format_iso8601(job.run_at));
    field("started at", format_optional(job.started_at));
    field("finished at", format_optional(job.finished_at));
    if (job.lease_owner) {
        field("lease",
              fmt::format(
                  "{} until {}", printable(*job.lease_owner), format_optional(job.lease_until)));
    }
    std::string progress = progress_bar(job.progress, 20);
    if (!job.progress_message.empty()) progress += " " + printable(job.progress_message);
    field("progress", progress);
    field("expires at", format_optional(job.expires_at));
    field("args", printable(job.args));
    field("result", job.result ? printable(*job.result) : "-");
    if (job.errors.empty()) {
        field("errors", "-");
    } else {
        out += "errors\n";
        for (const AttemptError& error : job.errors) {
            out += fmt::format("  attempt {} at {}: {}\n",
                               error.attempt,
                               format_iso8601(error.at),
                               printable(error.message));
        }
    }
    return out;
}

// The last line of `show --follow`.
std::string outcome(const JobRecord& job) {
    switch (job.state) {
        case JobState::succeeded:
            return job.result ? fmt::format("job {} succeeded; result: {}",
                                            job.id,
                                            fit(printable(*job.result), 200))
                              : fmt::format("job {} succeeded", job.id);
        case JobState::dead:
            return job.errors.empty()
                       ? fmt::format("job {} is dead after {} attempts", job.id, job.attempt)
                       : fmt::format("job {} is dead after {} attempts: {}",
                                     job.id,
                                     job.attempt,
                                     printable(job.errors.back().message));
        default:
            return fmt::format("job {} {}", job.id, to_string(job.state));
    }
}

// Fails with the position of the first error: "line 1, column 9".
void check_json(std::string_view what, const std::string& text) {
    boost::json::stream_parser parser;
    boost::system::error_code ec;
    // write() reports extra text after a complete value too; finish() an
    // unfinished one.
    std::size_t offset = parser.write(text.data(), text.size(), ec);
    if (!ec) {
        parser.finish(ec);
        offset = text.size();
    }
    if (!ec) return;
    offset = std::min(offset, text.size());
    std::size_t line = 1;
    std::size_t line_start = 0;
    for (std::size_t i = 0; i < offset; ++i) {
        if (text[i] == '\n') {
            ++line;
            line_start = i + 1;
        }
    }
    const std::size_t column =
        display_width(std::string_view(text).substr(line_start, offset - line_start)) + 1;
    usage_error(fmt::format("{} is not valid JSON: {} at line {}, column {} (offset {})",
                            what,
                            ec.message(),
                            line,
                            column,
                            offset));
}

void print_json(const boost::json::value& value) {
    std::cout << boost::json::serialize(value) << '\n' << std::flush;
}

}  // namespace

JobsCommand::JobsCommand(CLI::App& cli) {
    jobs_ =
        cli.add_subcommand("jobs", "List, inspect, enqueue, cancel, retry and purge durable jobs");
    jobs_->require_subcommand(1);
    jobs_->footer(
        "Exit codes: 0 done; 1 the store failed, an id was unknown or "
        "in the wrong state, or a "
        "followed job ended cancelled or dead; 2 a usage error "
        "(nothing was read or written).");
    auto* data_dir =
        jobs_->add_option("--data-dir", data_dir_, "Data folder whose afterwork.db holds the jobs")
            ->type_name("DIR")
            ->capture_default_str();
    jobs_
        ->add_option("--store",
                     store_url_,
                     "Store URL instead: sqlite:///absolute/path.db or "
                     "sqlite:relative/path.db")
        ->type_name("URL")
        ->excludes(data_dir);
    jobs_
        ->add_option("--busy-timeout",
                     busy_timeout_,
                     "Milliseconds to wait for another process's lock on the file")
        ->type_name("MS")
        ->capture_default_str();

    // fallthrough: the store options may follow the subcommand (`afterwork jobs
    // ls --data-dir d`), where people type them.
    ls_ = jobs_->add_subcommand("ls", "List jobs, newest first, or count them per queue and state");
    ls_->fallthrough();
    auto* state =
        ls_->add_option(
               "--state", states_, "Only jobs in these states (repeat or separate with commas)")
            ->type_name("STATE")
            ->delimiter(',');
    ls_->add_option("--queue", queue_, "Only jobs of this queue")->type_name("QUEUE");
    auto* name = ls_->add_option("--name", name_, "Only jobs of this name")->type_name("NAME");
    auto* limit = ls_->add_option("--limit", limit_, "At most this many jobs (1-1000)")
                      ->type_name("N")
                      ->capture_default_str();
    auto* before = ls_->add_option("--before", before_, "Only jobs with a smaller id (next page)")
                       ->type_name("ID");
    ls_->add_flag("--counts", counts_, "Jobs per queue and state instead of a list")
        ->excludes(state)
        ->excludes(name)
        ->excludes(limit)
        ->excludes(before);
    ls_->add_flag("--json", json_, "One JSON array instead of a table");

    show_ = jobs_->add_subcommand("show", "Show every field of one job");
    show_->fallthrough();
    show_->add_option("id", id_, "Job id")->type_name("ID")->required();
    auto* follow = show_->add_flag("--follow",
                                   follow_,
                                   "Poll until the job is succeeded, cancelled "
                                   "or dead, drawing its progress; exit 0 when "
                                   "it succeeded, 1 otherwise");
    show_->add_flag("--json", json_, "The job as one JSON object")->excludes(follow);

    enqueue_ = jobs_->add_subcommand("enqueue", "Add a job and print its id");
    enqueue_->fallthrough();
    enqueue_->add_option("name", job_name_, "Job name, as the worker defines it")
        ->type_name("NAME")
        ->required();
    enqueue_->add_option("args", args_, "Arguments as JSON text")
        ->type_name("ARGS_JSON")
        ->capture_default_str();
    enqueue_->add_option("--queue", job_queue_, "Queue")->type_name("QUEUE")->capture_default_str();
    enqueue_
        ->add_option(
            "--priority",
            priority_,
            fmt::format("Priority, {} to {}; higher runs first", kMinPriority, kMaxPriority))
        ->type_name("P")
        ->capture_default_str();
    auto* delay = enqueue_->add_option("--delay", delay_, "Run no sooner than SECONDS from now")
                      ->type_name("SECONDS");
    enqueue_->add_option("--at", at_, "Run no sooner than this ISO 8601 instant (Z or offset)")
        ->type_name("ISO")
        ->excludes(delay);
    enqueue_
        ->add_option("--unique-key",
                     unique_key_,
                     "While a job with this key is active, return its id instead "
                     "of adding "
                     "one")
        ->type_name("KEY");
    enqueue_
        ->add_option("--max-attempts",
                     max_attempts_,
                     fmt::format("Attempts before the job is dead, 1 to {}", kMaxAttemptsLimit))
        ->type_name("N")
        ->capture_default_str();
    enqueue_->add_flag("--json", json_, "Print {\"id\": ..., \"created\": ...}");

    cancel_ = jobs_->add_subcommand("cancel", "Cancel jobs (a running one is asked to stop)");
    cancel_->fallthrough();
    cancel_->add_option("ids", ids_, "Job ids")->type_name("ID")->required();

    retry_ = jobs_->add_subcommand("retry", "Run dead, failed or cancelled jobs again");
    retry_->fallthrough();
    retry_->add_option("ids", ids_, "Job ids")->type_name("ID")->required();

    purge_ = jobs_->add_subcommand(
        "purge", "Delete finished jobs that are past their expiry, or older than a duration");
    purge_->fallthrough();
    auto* older_than =
        purge_
            ->add_option("--older-than",
                         older_than_,
                         "Instead, delete the jobs that finished more than DURATION ago, "
                         "whatever their expiry: 30s, 15m, 12h, 7d, 2w (0s: every finished job)")
            ->type_name("DURATION");
    purge_
        ->add_option("--state",
                     purge_states_,
                     "With --older-than: only jobs in these states, succeeded, cancelled or "
                     "dead (repeat or separate with commas)")
        ->type_name("STATE")
        ->delimiter(',')
        ->needs(older_than);
}

int JobsCommand::run() const noexcept {
    try {
        return dispatch();
    } catch (const CommandFailure& failure) {
        std::cout << std::flush;
        std::cerr << "error: " << failure.message << std::endl;
        return failure.code;
    } catch (const std::exception& e) {
        // Not expected (the store reports through results); still one line, never a
        // trace.
        std::cout << std::flush;
        std::cerr << "error: " << e.what() << std::endl;
        return kFailure;
    }
}

int JobsCommand::dispatch() const {
    if (ls_->parsed()) return counts_ ? list_counts() : list();
    if (show_->parsed()) return follow_ ? follow() : show();
    if (enqueue_->parsed()) return enqueue();
    if (cancel_->parsed()) return cancel();
    if (retry_->parsed()) return retry();
    if (purge_->parsed()) return purge();
    return kUsageError;
}

namespace {

// Where the store is and how long to wait for it; every usage error of the
// store options is found here, before any subcommand touches the file.
StoreLocation locate(const std::string& store_url,
                     const std::string& data_dir,
                     const std::string& busy_timeout) {
    StoreLocation where;
    where.path = store_url.empty() ? std::filesystem::path(data_dir) / "afterwork.db"
                                   : sqlite_path_of(store_url);
    const auto ms = parse_integer<std::int64_t>(busy_timeout);
    if (!ms || *ms < 0 || *ms > kMaxBusyTimeoutMs) {
        usage_error(
            fmt::format("busy timeout must be a whole number of milliseconds from 0 to "
                        "{}, got \"{}\"",
                        kMaxBusyTimeoutMs,
                        busy_timeout));
    }
    where.busy_timeout = std::chrono::milliseconds(*ms);
    return where;
}

}  // namespace

int JobsCommand::list() const {
    const StoreLocation where = locate(store_url_, data_dir_, busy_timeout_);
    std::set<JobState> states;
    for (const std::string& text : states_) {
        auto state = parse_job_state(text);
        if (!state) usage_error(state.error().what());
        states.insert(*state);
    }
    JobFilter filter;
    if (!queue_.empty()) filter.queue = queue_;
    if (!name_.empty()) filter.name = name_;
    PageRequest page;
    page.limit = static_cast<std::size_t>(
        parse_in_range("limit", limit_, 1, static_cast<int>(kMaxPageSize)));
    if (!before_.empty()) page.before_id = parse_id(before_);

    const auto store = open_store(where, Access::read);
    std::vector<JobRecord> jobs;
    bool more = false;
    if (states.size() <= 1) {
        if (!states.empty()) filter.state = *states.begin();
        JobPage result = take(store->list(filter, page));
        jobs = std::move(result.jobs);
        more = result.next_before_id.has_value();
    } else {
        // The store filters by one state; the newest `limit` jobs of several states
        // are among the newest `limit` of each, so one page per state, merged, is
        // exact.
        for (JobState state : states) {
            filter.state = state;
            JobPage result = take(store->list(filter, page));
            more = more || result.next_before_id.has_value();
            for (JobRecord& job : result.jobs) jobs.push_back(std::move(job));
        }
        std::sort(jobs.begin(), jobs.end(), [](const JobRecord& a, const JobRecord& b) {
            return a.id > b.id;
        });
        if (jobs.size() > page.limit) {
            jobs.resize(page.limit);
            more = true;
        }
    }

    if (json_) {
        boost::json::array array;
        for (const JobRecord& job : jobs) array.push_back(job_to_json(job));
        print_json(array);
        return 0;
    }
    if (jobs.empty()) {
        std::cout << "no jobs match" << std::endl;
        return 0;
    }
    std::cout << jobs_table(jobs, terminal_width());
    if (more) std::cout << "more jobs match: add --before " << jobs.back().id << '\n';
    std::cout << std::flush;
    return 0;
}

int JobsCommand::list_counts() const {
    const StoreLocation where = locate(store_url_, data_dir_, busy_timeout_);
    const auto store = open_store(where, Access::read);
    std::vector<QueueCounts> counts = take(store->counts());
    if (!queue_.empty()) {
        std::erase_if(counts, [&](const QueueCounts& c) { return c.queue != queue_; });
    }
    if (json_) {
        print_json(counts_to_json(counts));
        return 0;
    }
    if (counts.empty()) {
        std::cout << "no jobs" << std::endl;
        return 0;
    }
    std::vector<Column> columns = {{"QUEUE", false, 7}};
    for (JobState s : kJobStates) {
        std::string header(to_string(s));
        std::transform(header.begin(), header.end(), header.begin(), [](char c) {
            return static_cast<char>(c - 'a' + 'A');
        });
        columns.push_back({std::move(header), true});
    }
    columns.push_back({"TOTAL", true});
    std::vector<std::vector<std::string>> rows;
    QueueCounts all{"(all)", {}};
    for (const QueueCounts& c : counts) {
        std::vector<std::string> row = {printable(c.queue)};
        for (std::size_t i = 0; i < kJobStateCount; ++i) {
            row.push_back(std::to_string(c.by_state[i]));
            all.by_state[i] += c.by_state[i];
        }
        row.push_back(std::to_string(c.total()));
        rows.push_back(std::move(row));
    }
    if (counts.size() > 1) {
        std::vector<std::string> row = {all.queue};
        for (std::int64_t n : all.by_state) row.push_back(std::to_string(n));
        row.push_back(std::to_string(all.total()));
        rows.push_back(std::move(row));
    }
    std::cout << render_table(columns, rows, terminal_width()) << std::flush;
    return 0;
}

int JobsCommand::show() const {
    const StoreLocation where = locate(store_url_, data_dir_, busy_timeout_);
    const JobId id = parse_id(id_);
    const auto store = open_store(where, Access::read);
    const JobRecord job = take(store->get(id));
    if (json_) {
        print_json(job_to_json(job));
    } else {
        std::cout << details(job) << std::flush;
    }
    return 0;
}

int JobsCommand::follow() const {
    const StoreLocation where = locate(store_url_, data_dir_, busy_timeout_);
    const JobId id = parse_id(id_);
    const auto store = open_store(where, Access::read);
    JobRecord job = take(store->get(id));
    std::cout << details(job) << std::flush;
    if (!is_finished(job.state) && is_snapshot(*store)) {
        // Polling would never see a change.
        throw CommandFailure{kFailure,
                             fmt::format("cannot follow job {}: the folder of {} cannot be "
                                         "written, so the file is read as it is now and no "
                                         "later change would show",
                                         id,
                                         where.path.string())};
    }

    const bool terminal = stdout_is_terminal();
    std::string shown;
    for (;;) {
        std::string message = printable(job.progress_message);
        if (job.state == JobState::running && job.cancel_requested) {
            message = message.empty() ? "(cancel requested)" : message + " (cancel requested)";
        }
        if (terminal) {
            // Redrawn in place; one column short of the width so the terminal never
            // wraps.
            std::string line = fmt::format(
                "{} {} {}", progress_bar(job.progress, 30), to_string(job.state), message);
            while (!line.empty() && line.back() == ' ') line.pop_back();
            line = fit(line, std::max<std::size_t>(terminal_width(), 2) - 1);
            if (line != shown) std::cout << "\r\x1b[K" << line << std::flush;
            shown = std::move(line);
        } else {
            // A log or a pipe gets one line per change, never control characters.
            std::string line =
                fmt::format("{} {}% {}", to_string(job.state), percent(job.progress), message);
            while (!line.empty() && line.back() == ' ') line.pop_back();
            if (line != shown) std::cout << line << '\n' << std::flush;
            shown = std::move(line);
        }
        if (is_finished(job.state)) break;
        std::this_thread::sleep_for(kFollowInterval);
        auto next = store->get(id);
        if (!next && next.error().code() == JobsErrc::not_found) {
            if (terminal) std::cout << '\n';
            throw CommandFailure{kFailure,
                                 fmt::format("job {} was removed while it was followed", id)};
        }
        if (!next && terminal) std::cout << '\n';
        job = take(std::move(next));
    }
    if (terminal) std::cout << '\n';
    std::cout << outcome(job) << std::endl;
    return job.state == JobState::succeeded ? 0 : kFailure;
}

int JobsCommand::enqueue() const {
    const StoreLocation where = locate(store_url_, data_dir_, busy_timeout_);
    NewJob job;
    job.name = job_name_;
    job.args = args_;
    job.queue = job_queue_;
    check_json("ARGS_JSON", args_);
    job.priority = parse_in_range("priority", priority_, kMinPriority, kMaxPriority);
    job.max_attempts = parse_in_range("max attempts", max_attempts_, 1, kMaxAttemptsLimit);
    if (enqueue_->count("--unique-key") > 0) job.unique_key = unique_key_;

    const TimePoint now = std::chrono::system_clock::now();
    if (!delay_.empty()) {
        double seconds = 0;
        const char* end = delay_.data() + delay_.size();
        const auto [ptr, ec] = std::from_chars(delay_.data(), end, seconds);
        // Written so NaN fails too.
        if (ec != std::errc{} || ptr != end || !(seconds >= 0.0 && seconds <= kMaxDelaySeconds)) {
            usage_error(
                fmt::format("delay must be a number of seconds from 0 to {:.0f}, got "
                            "\"{}\"",
                            kMaxDelaySeconds,
                            delay_));
        }
        job.run_at = now + std::chrono::microseconds(std::llround(seconds * 1e6));
    } else if (!at_.empty()) {
        auto at = try_parse_iso8601(at_);
        if (!at) usage_error(at.error().what());
        job.run_at = *at;
    }
    // The store checks again; checking here keeps a bad job from creating the
    // data folder.
    if (auto valid = validate(job); !valid) usage_error(valid.error().what());

    const auto store = open_store(where, Access::create);
    const EnqueueOutcome result = take(store->enqueue(job, now));
    if (json_) {
        print_json(boost::json::object{{"id", result.id}, {"created", result.created}});
    } else {
        std::cout << result.id << std::endl;
    }
    if (!result.created) {
        // stdout stays just the id, so `id=$(afterwork jobs enqueue ...)` works
        // either way.
        std::cerr << fmt::format(
                         "note: unique key \"{}\" matches active job {}; no new job was "
                         "added",
                         printable(*job.unique_key),
                         result.id)
                  << std::endl;
    }
    return 0;
}

namespace {

// Runs `act` for every id, printing its outcome line or its error. A storage
// error ends the whole command (every later id would meet the same store); an
// error of one id (unknown, wrong state) does not.
template <class Act>
int for_each_id(const std::vector<std::string>& texts, const StoreLocation& where, Act act) {
    std::vector<JobId> ids;
    ids.reserve(texts.size());
    for (const std::string& text : texts) ids.push_back(parse_id(text));
    const auto store = open_store(where, Access::write);
    int code = 0;
    for (JobId id : ids) {
        JobsResult<std::string> line = act(*store, id);
        if (line) {
            std::cout << id << ": " << *line << std::endl;
            continue;
        }
        if (is_storage_error(line.error().code())) {
            throw CommandFailure{kFailure, line.error().what()};
        }
        std::cerr << "error: " << line.error().what() << std::endl;
        code = kFailure;
    }
    return code;
}

}  // namespace

int JobsCommand::cancel() const {
    const StoreLocation where = locate(store_url_, data_dir_, busy_timeout_);
    return for_each_id(ids_, where, [](Store& store, JobId id) -> JobsResult<std::string> {
        const TimePoint now = std::chrono::system_clock::now();
        auto state = store.cancel(id, now, now + kCancelledTtl);
        if (!state) return state.error();
        if (*state == JobState::running) {
            return std::string("cancel requested; it is running and its worker stops it");
        }
        return std::string(to_string(*state));
    });
}

int JobsCommand::retry() const {
    const StoreLocation where = locate(store_url_, data_dir_, busy_timeout_);
    return for_each_id(ids_, where, [](Store& store, JobId id) -> JobsResult<std::string> {
        auto done = store.retry(id, std::chrono::system_clock::now());
        if (!done) return done.error();
        return std::string("queued again");
    });
}

namespace {

constexpr std::int64_t kMaxOlderThanDays = 100 * 365;

// "30s", "15m", "12h", "7d", "2w": a whole number and one unit, from 0s to 100
// years.
std::chrono::seconds parse_older_than(const std::string& text) {
    static constexpr std::pair<char, std::int64_t> kUnits[] = {
        {'s', 1}, {'m', 60}, {'h', 3600}, {'d', 86'400}, {'w', 604'800}};
    const auto* unit = std::find_if(std::begin(kUnits), std::end(kUnits), [&](const auto& u) {
        return !text.empty() && text.back() == u.first;
    });
    std::string_view number(text);
    if (!number.empty()) number.remove_suffix(1);
    const bool negative = number.starts_with('-');
    if (negative) number.remove_prefix(1);
    if (unit == std::end(kUnits) || number.empty() ||
        !std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        usage_error(
            fmt::format("--older-than must be a whole number and a unit (s, m, h, d or w), like "
                        "30s, 15m, 12h, 7d or 2w; got \"{}\"",
                        text));
    }
    // Only digits are left, so the parse fails only when the number is too large.
    const auto count = parse_integer<std::int64_t>(number);
    constexpr std::int64_t kMaxSeconds = kMaxOlderThanDays * 86'400;
    if (negative || !count || *count > kMaxSeconds / unit->second) {
        usage_error(fmt::format("--older-than must be from 0s to {}d (100 years), got \"{}\"",
                                kMaxOlderThanDays,
                                text));
    }
    return std::chrono::seconds(*count * unit->second);
}

// The finished states of `purge --state`, without repeats, in their usual order.
std::vector<JobState> parse_finished_states(const std::vector<std::string>& texts) {
    std::set<JobState> states;
    for (const std::string& text : texts) {
        auto state = parse_job_state(text);
        if (!state || !is_finished(*state)) {
            usage_error(
                fmt::format("--state must be succeeded, cancelled or dead (only finished jobs are "
                            "purged), got \"{}\"",
                            text));
        }
        states.insert(*state);
    }
    return {states.begin(), states.end()};
}

// "succeeded", "succeeded or dead", "succeeded, cancelled or dead".
std::string either(const std::vector<JobState>& states) {
    std::string out;
    for (std::size_t i = 0; i < states.size(); ++i) {
        if (i > 0) out += i + 1 == states.size() ? " or " : ", ";
        out += to_string(states[i]);
    }
    return out;
}

// Calls `batch` (which deletes at most kPurgeBatch jobs) until it deletes fewer
// and returns the total; a terminal shows the count so far. On an error the
// count deleted before it is printed and the error ends the command.
template <class Batch>
std::size_t purge_in_batches(Batch batch) {
    const bool terminal = stdout_is_terminal();
    std::size_t total = 0;
    for (;;) {
        JobsResult<std::size_t> purged = batch();
        if (!purged) {
            if (terminal && total >= kPurgeBatch) std::cout << '\n';
            if (total > 0) std::cout << "purged " << total << " jobs before the error\n";
            take(std::move(purged));
        }
        total += *purged;
        if (*purged < kPurgeBatch) break;
        if (terminal) std::cout << "\r\x1b[Kpurging: " << total << " jobs so far" << std::flush;
    }
    if (terminal && total >= kPurgeBatch) std::cout << "\r\x1b[K";
    return total;
}

}  // namespace

int JobsCommand::purge() const {
    const StoreLocation where = locate(store_url_, data_dir_, busy_timeout_);
    const bool by_age = purge_->count("--older-than") > 0;
    std::chrono::seconds older_than{0};
    std::vector<JobState> states;
    if (by_age) {
        older_than = parse_older_than(older_than_);
        states = parse_finished_states(purge_states_);
    }
    const auto store = open_store(where, Access::write);
    // One `now` for every batch: jobs that finish or expire while the purge runs
    // wait for the next one, so the loop ends even while workers keep finishing
    // jobs.
    const TimePoint now = std::chrono::system_clock::now();
    if (!by_age) {
        const std::size_t total = purge_in_batches([&] { return store->purge(now, kPurgeBatch); });
        std::cout << "purged " << total << (total == 1 ? " job" : " jobs")
                  << " finished and past their expiry" << std::endl;
        return 0;
    }
    const TimePoint cutoff = now - older_than;
    const std::size_t total =
        purge_in_batches([&] { return store->purge_finished(cutoff, states, kPurgeBatch); });
    std::cout << "purged " << total << (states.empty() ? "" : " " + either(states))
              << (total == 1 ? " job" : " jobs") << " finished more than " << older_than_ << " ago"
              << std::endl;
    return 0;
}

}  // namespace afterwork::apps
