// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `Request`: the handler's view of one HTTP request — method, path, typed path and query
/// parameters, headers, the body as text, JSON or a described struct, the request id and the
/// app's state.
///
/// Typed accessors answer bad input the way FastAPI does: a path or query parameter that does
/// not parse, or a body that does not match its struct, throws `ValidationError` (a 422 naming
/// the failing field), invalid JSON is a 422 of type `json_invalid`.
///
/// @par Thread safety
/// Loop-bound: use it only on the request's loop while the handler runs. It views the
/// connection's buffers: copy what a background task needs (BackgroundTasks::add copies its
/// arguments for this reason).

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include <boost/json/value.hpp>

#include <afterwork/http/app_state.hpp>
#include <afterwork/http/errors.hpp>
#include <afterwork/http/json_binding.hpp>
#include <afterwork/runtime/task.hpp>

namespace afterwork {

class App;
namespace detail {
struct RequestData;
}

class Request {
public:
    explicit Request(detail::RequestData& data) noexcept : data_(&data) {}

    std::string_view method() const noexcept;
    /// The request target as sent: path and query, still percent-encoded.
    std::string_view target() const noexcept;
    /// The decoded path, without the query.
    std::string_view path() const noexcept;
    /// The route pattern that matched, e.g. `/reports/{job_id}`; empty when none did.
    std::string_view route() const noexcept;
    /// The request id: the client's `x-request-id` when it sent a sane one, else generated.
    std::string_view request_id() const noexcept;

    /// The first header called `name` (case-insensitive), if any.
    std::optional<std::string_view> header(std::string_view name) const;
    std::string_view body() const noexcept;

    /// The decoded text of path parameter `name`; throws `std::logic_error` if the route has no
    /// such parameter (a bug in the handler, not in the request).
    std::string_view path_param(std::string_view name) const;
    /// Path parameter `name` converted to `T` (int, double, bool, enum, string); 422 with
    /// loc `["path", name]` when it does not convert.
    template <class T>
    T path_param(std::string_view name) const {
        return convert_param<T>("path", name, path_param(name));
    }

    /// The first decoded value of query parameter `name`, if present.
    std::optional<std::string_view> query(std::string_view name) const;
    /// Query parameter `name` converted to `T`; nullopt when absent, 422 with loc
    /// `["query", name]` when present but not convertible.
    template <class T>
    std::optional<T> query(std::string_view name) const {
        auto text = query(name);
        if (!text) return std::nullopt;
        return convert_param<T>("query", name, *text);
    }
    /// Query parameter `name` converted to `T`, or `fallback` when absent.
    template <class T>
    T query_or(std::string_view name, T fallback) const {
        auto value = query<T>(name);
        return value ? std::move(*value) : std::move(fallback);
    }

    /// The body parsed as JSON; 422 `json_invalid` when it is not JSON.
    boost::json::value json() const;
    /// The body parsed as JSON and bound to the described struct `T`; 422 listing every
    /// missing or mistyped field.
    template <class T>
    T json() const {
        return bind_json<T>(json());
    }

    /// The app's shared state.
    AppState& state() const noexcept;
    /// The app serving this request.
    App& app() const noexcept;
    /// The executor of the loop this request runs on.
    const Executor& executor() const noexcept;

    detail::RequestData& data() const noexcept { return *data_; }

private:
    template <class T>
    static T convert_param(const char* where, std::string_view name, std::string_view text) {
        if constexpr (std::is_same_v<T, std::string>) {
            return std::string(text);
        } else {
            auto value = parse_text<T>(text);
            if (!value) {
                throw ValidationError({text_issue<T>(boost::json::array{where, name}, text)});
            }
            return std::move(*value);
        }
    }

    detail::RequestData* data_;
};

}  // namespace afterwork
