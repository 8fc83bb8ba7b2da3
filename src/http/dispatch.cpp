// SPDX-License-Identifier: MIT
// Request dispatch: preparing a parsed request (path, query, request id, route), the middleware
// chain, the endpoint that calls the handler, and the error responses. Apart from the runner
// and the lifecycle because it changes with what a request sees, not with how work runs.
#include "http/app_core.hpp"

#include <algorithm>
#include <charconv>

#include <spdlog/spdlog.h>

#include <afterwork/runtime/offload.hpp>

#include "http/url_decode.hpp"

namespace afterwork {

namespace detail {

Response error_response(int status, std::string_view detail) {
    return json_response(status, {{"detail", detail}});
}

namespace {

// The built-in exception handlers, after the user's.
std::optional<Response> builtin_exception_response(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const HttpError& e) {
        Response response = error_response(e.status(), e.detail());
        for (const auto& [name, value] : e.headers()) response.add_header(name, value);
        return response;
    } catch (const ValidationError& e) {
        return json_response(422, e.to_json());
    } catch (const PoolOverloaded& e) {
        Response response = error_response(503, e.what());
        response.add_header("Retry-After", "1");
        return response;
    } catch (...) {
        return std::nullopt;
    }
}

bool sane_request_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    return std::all_of(id.begin(), id.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.' ||
               c == ':';
    });
}

std::uint64_t mix(std::uint64_t x) {
    // splitmix64: consecutive counters give unrelated-looking ids.
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

Task<Response> endpoint(Dispatch* dispatch, Request& request) {
    AppCore& app = dispatch->app;
    RequestData& data = request.data();
    if (dispatch->outcome == Router::Outcome::not_found) co_return error_response(404, "Not Found");
    if (dispatch->outcome == Router::Outcome::method_not_allowed) {
        Response response = error_response(405, "Method Not Allowed");
        response.add_header("Allow", data.match.allow);
        co_return response;
    }
    std::exception_ptr error;
    try {
        co_return co_await data.match.route->handler(request, dispatch->tasks);
    } catch (...) {
        error = std::current_exception();
    }
    dispatch->handler_failed = true;
    if (is_cancellation(error)) std::rethrow_exception(error);
    for (const auto& handler : app.exception_handlers) {
        if (auto response = handler(request, error)) co_return std::move(*response);
    }
    if (auto response = builtin_exception_response(error)) co_return std::move(*response);
    std::rethrow_exception(error);
}

Task<Response> call_next(Dispatch* dispatch, std::size_t index, Request& request) {
    if (index < dispatch->app.middlewares.size()) {
        return dispatch->app.middlewares[index](request, Next(*dispatch, index + 1));
    }
    return endpoint(dispatch, request);
}

}  // namespace

std::optional<Response> AppCore::prepare(RequestData& data) {
    data.app = this;
    auto target_view = data.message.target();
    std::string_view target(target_view.data(), target_view.size());
    if (target.empty() || target.front() != '/') {
        return error_response(400, "Bad Request: the target must be an absolute path");
    }
    std::size_t question = target.find('?');
    std::string_view raw_path = target.substr(0, question);
    data.query_string =
        question == std::string_view::npos ? std::string_view{} : target.substr(question + 1);
    if (raw_path.find('%') == std::string_view::npos) {
        data.path = raw_path;  // nothing to decode: view the target, no copy
    } else {
        auto decoded = percent_decode(raw_path, false);
        if (!decoded) {
            return error_response(400, "Bad Request: malformed percent-encoding in the path");
        }
        data.decoded_path = std::move(*decoded);
        data.path = data.decoded_path;
    }
    if (!data.query_string.empty()) {
        data.query_params = parse_query(data.query_string);
        if (!data.query_params) {
            return error_response(400, "Bad Request: malformed percent-encoding in the query");
        }
    }
    auto id = data.message.find("x-request-id");
    if (id != data.message.end() &&
        sane_request_id(std::string_view(id->value().data(), id->value().size()))) {
        data.request_id.assign(id->value().data(), id->value().size());
    } else {
        // 64 random-looking bits in base 36: at most 13 characters, no allocation.
        auto value = mix(request_id_seed + request_counter.fetch_add(1, std::memory_order_relaxed));
        char buffer[16];
        auto result = std::to_chars(buffer, buffer + sizeof buffer, value, 36);
        data.request_id.assign(buffer, result.ptr);
    }
    auto method = data.message.method_string();
    data.outcome = router.match(std::string_view(method.data(), method.size()), data.path,
                                data.match);
    return std::nullopt;
}

Task<Response> AppCore::handle(RequestData& data, BackgroundTasks& tasks, bool& failed) {
    Request request(data);
    Dispatch dispatch{*this, tasks, data.outcome};
    std::exception_ptr error;
    try {
        Response response = co_await call_next(&dispatch, 0, request);
        failed = dispatch.handler_failed;
        co_return response;
    } catch (...) {
        error = std::current_exception();
    }
    failed = true;
    if (!is_cancellation(error)) {
        spdlog::error("{} {} failed (request id {}): {}", request.method(),
                      request.route().empty() ? request.path() : request.route(),
                      data.request_id, describe_exception(error));
    }
    co_return json_response(500, {{"detail", "Internal Server Error"},
                                  {"request_id", data.request_id}});
}

Task<Response> run_sync_handler(Request& request, UniqueFunction<Response()> handler) {
    // Not cancellable: the handler uses the request, which the awaiting frame owns.
    co_return co_await offload<false>(*request.data().app->handler_pool, std::move(handler));
}

}  // namespace detail

Task<Response> Next::operator()(Request& request) const {
    return detail::call_next(dispatch_, index_, request);
}

}  // namespace afterwork
