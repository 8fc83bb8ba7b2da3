// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// Exceptions a handler throws to answer with an HTTP error instead of a response.
///
/// The app turns `HttpError` into `{"detail": "..."}` with its status and `ValidationError` into
/// a 422 in FastAPI's shape, `{"detail":[{"loc":["body","email"],"msg":"...","type":"..."}]}`.
/// Any other exception becomes a 500 whose body carries only the request id; the detail goes to
/// the log.
///
/// @par Thread safety
/// Distinct objects safe, shared unsafe (plain values).

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>

#include <afterwork/detail/validation_issue.hpp>
#include <afterwork/jobs/jobs_error.hpp>

namespace afterwork {

/// An error answered with `status` and `{"detail": detail}`.
class HttpError : public std::runtime_error {
public:
    HttpError(int status, std::string detail,
              std::vector<std::pair<std::string, std::string>> headers = {});

    int status() const noexcept { return status_; }
    const std::string& detail() const noexcept { return detail_; }
    /// Extra response headers, e.g. `Retry-After` on a 503 or `Allow` on a 405.
    const std::vector<std::pair<std::string, std::string>>& headers() const noexcept {
        return headers_;
    }

private:
    int status_;
    std::string detail_;
    std::vector<std::pair<std::string, std::string>> headers_;
};

/// Invalid request input, answered with 422 and every issue found.
class ValidationError : public std::runtime_error {
public:
    explicit ValidationError(std::vector<ValidationIssue> issues);
    ValidationError(boost::json::array loc, std::string msg, std::string type);

    const std::vector<ValidationIssue>& issues() const noexcept { return issues_; }
    /// The 422 body: `{"detail":[{"loc":[...],"msg":"...","type":"..."}, ...]}`.
    boost::json::value to_json() const;

private:
    std::vector<ValidationIssue> issues_;
};

/// Throws the HTTP answer for a failed job-queue call, so every endpoint over jobs answers
/// alike: 404 not_found, 409 duplicate / invalid_state / lease_lost, 422 invalid_argument (loc
/// `["body"]`), 503 with `Retry-After: 1` when the store failed (busy, read-only, full,
/// damaged, unreachable: nothing was done, a retry may succeed).
[[noreturn]] void throw_http_error(const JobsError& error);

}  // namespace afterwork
