// SPDX-License-Identifier: MIT
#include <afterwork/testing/test_client.hpp>

#include <stdexcept>

#include <afterwork/runtime/task_handle.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "http/app_core.hpp"

namespace afterwork::testing {

namespace asio = boost::asio;
namespace http = boost::beast::http;

std::optional<std::string_view> TestResponse::header(std::string_view name) const {
    for (const auto& [key, value] : headers) {
        if (boost::beast::iequals(key, name)) return value;
    }
    return std::nullopt;
}

boost::json::value TestResponse::json() const {
    boost::system::error_code ec;
    auto value = boost::json::parse(body, ec);
    if (ec) throw std::runtime_error("response body is not JSON: " + body);
    return value;
}

TestClient::TestClient(App& app, ServeOptions options) : app_(app) { app_.start(options); }

TestClient::~TestClient() { app_.stop(); }

namespace {

// Runs one request on a loop the way a connection does: prepare, handle, hand back the
// response, then schedule the background tasks.
Task<TestResponse> exchange(detail::AppCore* app, std::shared_ptr<detail::RequestData> data) {
    BackgroundTasks tasks(app->background.gate());
    bool failed = false;
    Response response;
    if (auto refused = app->prepare(*data)) {
        response = std::move(*refused);
    } else {
        response = co_await app->handle(*data, tasks, failed);
    }
    TestResponse result;
    result.status = response.status;
    result.body = std::move(response.body);
    result.headers = std::move(response.headers);
    if (!result.body.empty()) {
        result.headers.emplace_back("content-type", std::string(response.media_type()));
    }
    result.headers.emplace_back("x-request-id", data->request_id);
    app->after_response(tasks, failed, *data);
    co_return result;
}

}  // namespace

TestResponse TestClient::request(std::string_view method, std::string_view target,
                                 std::string body, const Headers& headers) {
    auto& core = app_.core();
    if (core.loops.empty()) throw std::logic_error("the TestClient's app is not running");
    auto data = std::make_shared<detail::RequestData>();
    data->message.method_string(boost::beast::string_view(method.data(), method.size()));
    data->message.target(boost::beast::string_view(target.data(), target.size()));
    data->message.version(11);
    for (const auto& [name, value] : headers) data->message.insert(name, value);
    data->message.body() = std::move(body);
    data->message.prepare_payload();
    auto& loop = *core.loops[next_loop_++ % core.loops.size()];
    data->executor = loop.executor();
    return afterwork::spawn(loop.executor(), exchange(&core, data)).get();
}

TestResponse TestClient::get(std::string_view target, const Headers& headers) {
    return request("GET", target, {}, headers);
}

TestResponse TestClient::del(std::string_view target, const Headers& headers) {
    return request("DELETE", target, {}, headers);
}

TestResponse TestClient::post(std::string_view target, std::string body, const Headers& headers) {
    return request("POST", target, std::move(body), headers);
}

TestResponse TestClient::post_json(std::string_view target, const boost::json::value& body,
                                   const Headers& headers) {
    Headers with_type = headers;
    with_type.emplace_back("content-type", "application/json");
    return request("POST", target, boost::json::serialize(body), with_type);
}

bool TestClient::wait_background(std::chrono::milliseconds timeout) {
    return app_.wait_background_idle(timeout);
}

}  // namespace afterwork::testing
