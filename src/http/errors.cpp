// SPDX-License-Identifier: MIT
#include <afterwork/http/errors.hpp>

#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

namespace afterwork {

namespace {

// "body.address.zip", "body.tags.2": strings as they are, numbers as JSON writes them.
std::string format_loc(const boost::json::array& loc) {
    std::string out;
    for (const auto& part : loc) {
        if (!out.empty()) {
            out += '.';
        }
        if (const auto* s = part.if_string()) {
            out.append(s->data(), s->size());
        } else {
            out += boost::json::serialize(part);
        }
    }
    return out;
}

// A one-line summary for logs: the first issue, and how many others there are.
std::string summarize(const std::vector<ValidationIssue>& issues) {
    std::string out = "validation failed";
    if (issues.empty()) {
        return out;
    }
    out += ": ";
    if (!issues.front().loc.empty()) {
        out += format_loc(issues.front().loc);
        out += ": ";
    }
    out += issues.front().msg;
    if (issues.size() > 1) {
        out += " (and " + std::to_string(issues.size() - 1) + " more)";
    }
    return out;
}

}  // namespace

HttpError::HttpError(int status,
                     std::string detail,
                     std::vector<std::pair<std::string, std::string>> headers)
    : std::runtime_error("HTTP " + std::to_string(status) + ": " + detail),
      status_(status),
      detail_(std::move(detail)),
      headers_(std::move(headers)) {}

ValidationError::ValidationError(std::vector<ValidationIssue> issues)
    : std::runtime_error(summarize(issues)), issues_(std::move(issues)) {}

ValidationError::ValidationError(boost::json::array loc, std::string msg, std::string type)
    : ValidationError(std::vector<ValidationIssue>{
          ValidationIssue{std::move(loc), std::move(msg), std::move(type)}}) {}

boost::json::value ValidationError::to_json() const {
    boost::json::array detail;
    detail.reserve(issues_.size());
    for (const auto& issue : issues_) {
        detail.emplace_back(boost::json::object{
            {"loc", issue.loc},
            {"msg", issue.msg},
            {"type", issue.type},
        });
    }
    return boost::json::object{{"detail", std::move(detail)}};
}

void throw_http_error(const JobsError& error) {
    switch (error.code()) {
        case JobsErrc::not_found:
            throw HttpError(404, error.what());
        case JobsErrc::duplicate:
        case JobsErrc::invalid_state:
        case JobsErrc::lease_lost:
            throw HttpError(409, error.what());
        case JobsErrc::invalid_argument:
            throw ValidationError(boost::json::array{"body"}, error.what(), "value_error");
        default:
            throw HttpError(503, error.what(), {{"Retry-After", "1"}});
    }
}

}  // namespace afterwork
