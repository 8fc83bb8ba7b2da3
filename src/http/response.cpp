// SPDX-License-Identifier: MIT
#include <afterwork/http/response.hpp>

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/serialize.hpp>

namespace afterwork {

Response& Response::add_header(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
}

std::optional<std::string_view> Response::header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (boost::beast::iequals(key, name)) return value;
    }
    return std::nullopt;
}

Response json_response(int status, const boost::json::value& value) {
    Response response;
    response.status = status;
    response.body = boost::json::serialize(value);
    return response;
}

Response json_response(int status, std::initializer_list<boost::json::value_ref> init) {
    unsigned char scratch[1024];
    boost::json::monotonic_resource resource(scratch, sizeof scratch);
    return json_response(status, boost::json::value(init, &resource));
}

Response text_response(int status, std::string body, std::string content_type) {
    Response response;
    response.status = status;
    response.body = std::move(body);
    response.content_type = std::move(content_type);
    return response;
}

Response empty_response(int status) {
    Response response;
    response.status = status;
    return response;
}

std::string_view status_reason(int status) noexcept {
    auto reason = boost::beast::http::obsolete_reason(
        static_cast<boost::beast::http::status>(status));
    if (reason == "<unknown-status>") return "Unknown";
    return {reason.data(), reason.size()};
}

namespace detail {
Response json_ok(const boost::json::value& value) { return json_response(200, value); }
}  // namespace detail

}  // namespace afterwork
