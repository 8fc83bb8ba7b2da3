// SPDX-License-Identifier: MIT
#include <afterwork/observe/jobs_api.hpp>

#include <cstdlib>
#include <memory>
#include <string_view>
#include <utility>

#include <boost/describe/class.hpp>
#include <boost/json/object.hpp>
#include <fmt/format.h>

#include <afterwork/http/errors.hpp>
#include <afterwork/jobs/job_json.hpp>
#include <afterwork/runtime/offload.hpp>
#include <afterwork/schedule/time_zone.hpp>

// Every blocking call goes to to_thread as a named lambda: g++ 12 destroys a lambda temporary
// written inside a co_await expression twice (seen here as a crash in a captured JobFilter).

namespace afterwork {
namespace {

struct EnqueueBody {
    std::string name;
    std::optional<boost::json::value> args;
    std::optional<std::string> queue;
    std::optional<int> priority;
    std::optional<double> delay;
    std::optional<std::string> run_at;
    std::optional<std::string> unique_key;
    std::optional<int> max_attempts;
};
BOOST_DESCRIBE_STRUCT(EnqueueBody,
                      (),
                      (name, args, queue, priority, delay, run_at, unique_key, max_attempts))

struct Api {
    Queue& queue;
    std::string token;  // empty: mutations are refused
};
using ApiPtr = std::shared_ptr<const Api>;

// The answer for a failed queue call. With `field`, an unknown name is bad input about that
// body field (422) rather than an unknown job (404).
[[noreturn]] void raise(const JobsError& error, std::string_view field = {}) {
    if (error.code() == JobsErrc::not_found && !field.empty()) {
        throw ValidationError(boost::json::array{"body", field}, error.what(), "value_error");
    }
    throw_http_error(error);
}

template <class T>
T value_or_raise(JobsResult<T> result) {
    if (!result) raise(result.error());
    if constexpr (!std::is_void_v<T>) return std::move(*result);
}

// Constant time in the length of the expected token, so the comparison does not tell an
// attacker how much of a guess was right.
bool same_token(std::string_view given, std::string_view expected) {
    unsigned char difference = given.size() == expected.size() ? 0 : 1;
    for (std::size_t i = 0; i < expected.size(); ++i) {
        const char g = i < given.size() ? given[i] : '\0';
        difference |= static_cast<unsigned char>(g ^ expected[i]);
    }
    return difference == 0;
}

void authorize(const Api& api, const Request& request) {
    if (api.token.empty()) {
        throw HttpError(403,
                        "job mutations are disabled: set AFTERWORK_ADMIN_TOKEN to enable them");
    }
    const auto header = request.header("Authorization");
    constexpr std::string_view kScheme = "Bearer ";
    if (!header || header->size() < kScheme.size() ||
        !same_token(header->substr(0, kScheme.size()), kScheme) ||
        !same_token(header->substr(kScheme.size()), api.token)) {
        throw HttpError(401, "a valid bearer token is required", {{"WWW-Authenticate", "Bearer"}});
    }
}

JobId job_id(const Request& request) {
    const auto id = request.path_param<std::int64_t>("id");
    if (id <= 0) {
        throw ValidationError(
            boost::json::array{"path", "id"}, "Input should be greater than 0", "greater_than");
    }
    return id;
}

Task<Response> list_jobs(ApiPtr api, Request& request) {
    JobFilter filter;
    if (auto state = request.query("state")) {
        auto parsed = parse_job_state(*state);
        if (!parsed) {
            throw ValidationError(
                boost::json::array{"query", "state"}, parsed.error().what(), "enum");
        }
        filter.state = *parsed;
    }
    if (auto queue = request.query("queue")) filter.queue = std::string(*queue);
    if (auto name = request.query("name")) filter.name = std::string(*name);
    PageRequest page;
    const auto limit = request.query_or<std::int64_t>("limit", 50);
    if (limit < 1 || limit > static_cast<std::int64_t>(kMaxPageSize)) {
        throw ValidationError(boost::json::array{"query", "limit"},
                              fmt::format("Input should be between 1 and {}", kMaxPageSize),
                              "value_error");
    }
    page.limit = static_cast<std::size_t>(limit);
    page.before_id = request.query<std::int64_t>("before");
    const Queue& queue = api->queue;
    auto listed_call = [&queue, filter, page] { return queue.list(filter, page); };
    auto listed = co_await to_thread(std::move(listed_call));
    JobPage result = value_or_raise(std::move(listed));
    boost::json::array jobs;
    for (const auto& job : result.jobs) jobs.push_back(job_to_json(job));
    co_return json_response(
        boost::json::object{{"jobs", std::move(jobs)},
                            {"next_before",
                             result.next_before_id ? boost::json::value(*result.next_before_id)
                                                   : boost::json::value(nullptr)}});
}

Task<Response> get_job(ApiPtr api, Request& request) {
    const JobId id = job_id(request);
    const Queue& queue = api->queue;
    auto found_call = [&queue, id] { return queue.get(id); };
    auto found = co_await to_thread(std::move(found_call));
    co_return json_response(job_to_json(value_or_raise(std::move(found))));
}

Task<Response> enqueue_job(ApiPtr api, Request& request) {
    authorize(*api, request);
    auto body = request.json<EnqueueBody>();
    EnqueueOptions options;
    if (body.delay) {
        if (!(*body.delay >= 0 && *body.delay <= 10 * 365 * 86400.0)) {
            throw ValidationError(boost::json::array{"body", "delay"},
                                  "Input should be a number of seconds from 0 to ten years",
                                  "value_error");
        }
        options.delay = std::chrono::milliseconds(std::llround(*body.delay * 1000));
    }
    if (body.run_at) {
        auto at = try_parse_iso8601(*body.run_at);
        if (!at) {
            throw ValidationError(
                boost::json::array{"body", "run_at"}, at.error().what(), "datetime_parsing");
        }
        options.run_at = *at;
    }
    options.priority = body.priority;
    options.queue = body.queue;
    options.unique_key = body.unique_key;
    options.max_attempts = body.max_attempts;
    auto args = body.args.value_or(boost::json::value(nullptr));
    std::string name = body.name;
    auto enqueued =
        co_await api->queue.co_enqueue(std::move(name), std::move(args), std::move(options));
    if (!enqueued) {
        raise(enqueued.error(), "name");
    }
    const EnqueueOutcome outcome = *enqueued;
    const Queue& queue = api->queue;
    auto job_call = [&queue, id = outcome.id] { return queue.get(id); };
    auto job = co_await to_thread(std::move(job_call));
    boost::json::object answer{{"id", outcome.id}, {"created", outcome.created}};
    if (job) answer["job"] = job_to_json(*job);
    co_return json_response(outcome.created ? 201 : 200, answer);
}

Task<Response> cancel_job(ApiPtr api, Request& request) {
    authorize(*api, request);
    const JobId id = job_id(request);
    Queue& queue = api->queue;
    auto cancelled_call = [&queue, id] { return queue.cancel(id); };
    auto cancelled = co_await to_thread(std::move(cancelled_call));
    const JobState state = value_or_raise(std::move(cancelled));
    co_return json_response(boost::json::object{{"id", id}, {"state", to_string(state)}});
}

Task<Response> retry_job(ApiPtr api, Request& request) {
    authorize(*api, request);
    const JobId id = job_id(request);
    Queue& queue = api->queue;
    auto retried_call = [&queue, id] { return queue.retry(id); };
    auto retried = co_await to_thread(std::move(retried_call));
    value_or_raise(std::move(retried));
    auto job_call = [&queue, id] { return queue.get(id); };
    auto job = co_await to_thread(std::move(job_call));
    co_return json_response(job_to_json(value_or_raise(std::move(job))));
}

Task<Response> delete_job(ApiPtr api, Request& request) {
    authorize(*api, request);
    const JobId id = job_id(request);
    const bool force = request.query_or<bool>("force", false);
    Queue& queue = api->queue;
    auto removed_call = [&queue, id, force] { return queue.remove(id, force); };
    auto removed = co_await to_thread(std::move(removed_call));
    value_or_raise(std::move(removed));
    co_return empty_response(204);
}

Task<Response> queue_depths(ApiPtr api, Request&) {
    const Queue& queue = api->queue;
    auto counts_call = [&queue] { return queue.counts(); };
    auto counts = co_await to_thread(std::move(counts_call));
    const auto list = value_or_raise(std::move(counts));
    co_return json_response(counts_to_json(list));
}

}  // namespace

void mount_jobs_api(App& app, Queue& queue, JobsApiOptions options) {
    std::string token;
    if (options.admin_token) {
        token = *options.admin_token;
    } else if (const char* from_env = std::getenv("AFTERWORK_ADMIN_TOKEN")) {
        token = from_env;
    }
    auto api = std::make_shared<const Api>(Api{queue, std::move(token)});
    std::string prefix = std::move(options.prefix);
    while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();

    app.get(prefix + "/jobs", [api](Request& request) { return list_jobs(api, request); });
    app.post(prefix + "/jobs", [api](Request& request) { return enqueue_job(api, request); });
    app.get(prefix + "/jobs/{id}", [api](Request& request) { return get_job(api, request); });
    app.del(prefix + "/jobs/{id}", [api](Request& request) { return delete_job(api, request); });
    app.post(prefix + "/jobs/{id}/cancel",
             [api](Request& request) { return cancel_job(api, request); });
    app.post(prefix + "/jobs/{id}/retry",
             [api](Request& request) { return retry_job(api, request); });
    app.get(prefix + "/queues", [api](Request& request) { return queue_depths(api, request); });
}

}  // namespace afterwork
