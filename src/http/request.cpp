// SPDX-License-Identifier: MIT
#include <afterwork/http/request.hpp>

#include <stdexcept>

#include <boost/beast/core/string.hpp>

#include "http/app_core.hpp"
#include "http/url_decode.hpp"

namespace afterwork {

std::string_view Request::method() const noexcept {
    auto text = data_->message.method_string();
    return {text.data(), text.size()};
}

std::string_view Request::target() const noexcept {
    auto text = data_->message.target();
    return {text.data(), text.size()};
}

std::string_view Request::path() const noexcept { return data_->path; }

std::string_view Request::route() const noexcept {
    return data_->match.route ? std::string_view(data_->match.route->pattern) : std::string_view{};
}

std::string_view Request::request_id() const noexcept { return data_->request_id; }

std::optional<std::string_view> Request::header(std::string_view name) const {
    auto it = data_->message.find(boost::beast::string_view(name.data(), name.size()));
    if (it == data_->message.end()) return std::nullopt;
    auto value = it->value();
    return std::string_view(value.data(), value.size());
}

std::string_view Request::body() const noexcept { return data_->message.body(); }

std::string_view Request::path_param(std::string_view name) const {
    if (const auto* route = data_->match.route) {
        for (std::size_t i = 0; i < route->param_names.size(); ++i) {
            if (route->param_names[i] == name) return data_->match.values[i];
        }
    }
    throw std::logic_error("route " + std::string(route()) + " has no path parameter '" +
                           std::string(name) + "'");
}

std::optional<std::string_view> Request::query(std::string_view name) const {
    if (!data_->query_params) {
        // Malformed escapes were rejected with 400 before the handler ran.
        data_->query_params = detail::parse_query(data_->query_string).value();
    }
    for (const auto& [key, value] : *data_->query_params) {
        if (key == name) return value;
    }
    return std::nullopt;
}

boost::json::value Request::json() const { return parse_json_body(body()); }

AppState& Request::state() const noexcept { return data_->app->state; }

App& Request::app() const noexcept { return data_->app->app; }

const Executor& Request::executor() const noexcept { return data_->executor; }

}  // namespace afterwork
