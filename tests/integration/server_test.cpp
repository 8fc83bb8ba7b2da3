// SPDX-License-Identifier: MIT
// The HTTP server over real loopback sockets: keep-alive and pipelining, background tasks that
// start after the response and never hold up the connection, the limits (body, headers,
// timeouts, connections), and the graceful shutdown ladder. Every App listens on a free port
// (`port = 0`) with two loops; waits are on conditions under generous deadlines.

#include <atomic>
#include <chrono>
#include <functional>
#include <future>
#include <string>
#include <thread>

#include <boost/asio/error.hpp>
#include <boost/system/system_error.hpp>
#include <gtest/gtest.h>

#include <afterwork/http/app.hpp>
#include <afterwork/runtime/sleep.hpp>

#include "support/socket_client.hpp"

namespace afterwork {
namespace {

using namespace std::chrono_literals;
using SteadyClock = std::chrono::steady_clock;
using testing::format_request;
using testing::http_request;
using testing::SocketClient;

// What the handlers and background tasks of a test report, and what the test releases. It
// lives in the app's state, so it outlives every task the app runs.
struct Probe {
    std::atomic<bool> release{false};  // lets waiting handlers and tasks go on
    std::atomic<bool> handler_entered{false};
    std::atomic<bool> task_started{false};
    std::atomic<bool> task_finished{false};
    std::atomic<bool> task_aborted{false};  // a task saw operation_aborted
};

// Sets `release` when the test ends, so a failed assertion never leaves a handler or a task
// waiting (declare it after the App: it must run before the App stops).
struct ReleaseOnExit {
    Probe& probe;
    ~ReleaseOnExit() { probe.release = true; }
};

ServeOptions test_options() {
    ServeOptions options;
    options.port = 0;  // a free port: App::port() tells which
    options.threads = 2;
    options.handle_signals = false;
    options.drain_timeout = 20s;
    return options;
}

bool wait_until(const std::function<bool()>& done, SteadyClock::duration timeout = 10s) {
    const auto deadline = SteadyClock::now() + timeout;
    while (!done()) {
        if (SteadyClock::now() >= deadline) return false;
        std::this_thread::sleep_for(5ms);
    }
    return true;
}

// Polls the release flag; bounded so a broken test cannot hang a loop forever.
Task<void> wait_for_release(Probe* probe) {
    const auto deadline = SteadyClock::now() + 30s;
    while (!probe->release.load() && SteadyClock::now() < deadline) co_await sleep_for(5ms);
}

// As wait_for_release, and records a cancellation (operation_aborted) before passing it on.
Task<void> wait_for_release_noting_abort(Probe* probe) {
    try {
        co_await wait_for_release(probe);
    } catch (const boost::system::system_error& e) {
        if (e.code() == boost::asio::error::operation_aborted) probe->task_aborted = true;
        throw;
    }
}

Task<void> task_until_released(Probe* probe) {
    probe->task_started = true;
    co_await wait_for_release(probe);
    probe->task_finished = true;
}

Task<void> mark_task_started(Probe* probe) {
    probe->task_started = true;
    probe->task_finished = true;
    co_return;
}

Task<void> sleep_long(Probe* probe) {
    probe->task_started = true;
    try {
        co_await sleep_for(60s);
    } catch (const boost::system::system_error& e) {
        if (e.code() == boost::asio::error::operation_aborted) probe->task_aborted = true;
        throw;
    }
    probe->task_finished = true;
}

// Routes every test app has.
void add_basic_routes(App& app) {
    app.get("/healthz", [](Request&) -> Task<Response> {
        co_return json_response({{"status", "ok"}});
    });
    // Answers `n`, after `delay_ms` if given (so an out-of-order answer would show).
    app.get("/seq/{n}", [](Request& request) -> Task<Response> {
        auto delay = request.query_or<int>("delay_ms", 0);
        if (delay > 0) co_await sleep_for(std::chrono::milliseconds(delay));
        co_return text_response(200, std::string(request.path_param("n")));
    });
    app.post("/echo", [](Request& request) -> Task<Response> {
        co_return text_response(200, std::string(request.body()));
    });
}

void expect_healthy(std::uint16_t port) {
    auto response = http_request(port, "GET", "/healthz");
    ASSERT_TRUE(response) << response.error().message();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, R"({"status":"ok"})");
}

// --- keep-alive and pipelining ---

TEST(Server, ServesSeveralRequestsOnOneKeepAliveConnection) {
    App app;
    add_basic_routes(app);
    app.start(test_options());
    SocketClient client(app.port());
    for (int i = 0; i < 5; ++i) {
        ASSERT_TRUE(client.send(format_request("GET", "/seq/" + std::to_string(i))));
        auto response = client.read_response();
        ASSERT_TRUE(response) << "request " << i << ": " << response.error().message();
        EXPECT_EQ(response->status, 200);
        EXPECT_EQ(response->version, "HTTP/1.1");
        EXPECT_EQ(response->body, std::to_string(i));
        EXPECT_FALSE(response->closes());
        EXPECT_TRUE(response->header("x-request-id"));
        EXPECT_TRUE(response->header("date"));
    }
    ASSERT_TRUE(client.send(format_request("POST", "/echo", "hello")));
    auto echoed = client.read_response();
    ASSERT_TRUE(echoed) << echoed.error().message();
    EXPECT_EQ(echoed->body, "hello");
}

TEST(Server, ClosesHttp10ConnectionWithoutKeepAlive) {
    App app;
    add_basic_routes(app);
    app.start(test_options());
    SocketClient client(app.port());
    ASSERT_TRUE(client.send("GET /healthz HTTP/1.0\r\n\r\n"));
    auto response = client.read_response();
    ASSERT_TRUE(response) << response.error().message();
    EXPECT_EQ(response->status, 200);
    EXPECT_TRUE(response->closes()) << response->head;
    auto rest = client.read_until_closed();
    ASSERT_TRUE(rest) << "the server kept the HTTP/1.0 connection open";
    EXPECT_EQ(*rest, "");
}

TEST(Server, KeepsHttp10ConnectionOpenWhenAsked) {
    App app;
    add_basic_routes(app);
    app.start(test_options());
    SocketClient client(app.port());
    for (int i = 0; i < 2; ++i) {
        ASSERT_TRUE(client.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"));
        auto response = client.read_response();
        ASSERT_TRUE(response) << "request " << i << ": " << response.error().message();
        EXPECT_EQ(response->status, 200);
        EXPECT_FALSE(response->closes());
    }
}

TEST(Server, HonoursConnectionClose) {
    App app;
    add_basic_routes(app);
    app.start(test_options());
    SocketClient client(app.port());
    ASSERT_TRUE(client.send(format_request("GET", "/seq/7", {}, {}, /*close=*/true)));
    auto response = client.read_response();
    ASSERT_TRUE(response) << response.error().message();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "7");
    auto connection = response->header("connection");
    ASSERT_TRUE(connection);
    EXPECT_EQ(*connection, "close");
    auto rest = client.read_until_closed();
    ASSERT_TRUE(rest) << "the server kept the connection open after Connection: close";
    EXPECT_EQ(*rest, "");
}

TEST(Server, AnswersPipelinedRequestsInOrder) {
    App app;
    add_basic_routes(app);
    app.start(test_options());
    SocketClient client(app.port());
    // One send: the slowest request first, so answering as they finish would reorder them.
    ASSERT_TRUE(client.send(format_request("GET", "/seq/1?delay_ms=100") +
                            format_request("GET", "/seq/2") +
                            format_request("POST", "/echo", "three")));
    for (std::string expected : {"1", "2", "three"}) {
        auto response = client.read_response();
        ASSERT_TRUE(response) << "waiting for " << expected << ": " << response.error().message();
        EXPECT_EQ(response->status, 200);
        EXPECT_EQ(response->body, expected);
    }
    EXPECT_EQ(client.buffered(), "");
}

TEST(Server, AnswersHeadWithoutBody) {
    App app;
    add_basic_routes(app);
    app.start(test_options());
    SocketClient client(app.port());
    // HEAD then GET on one connection: a body after the HEAD answer would corrupt the second.
    ASSERT_TRUE(
        client.send(format_request("HEAD", "/healthz") + format_request("GET", "/healthz")));
    auto head = client.read_response({.no_body = true});
    ASSERT_TRUE(head) << head.error().message();
    EXPECT_EQ(head->status, 200);
    EXPECT_EQ(head->header("content-length").value_or(""), "15");
    auto get = client.read_response();
    ASSERT_TRUE(get) << get.error().message();
    EXPECT_EQ(get->status, 200);
    EXPECT_EQ(get->body, R"({"status":"ok"})");
}

TEST(Server, AnswersExpectContinueBeforeTheBody) {
    App app;
    add_basic_routes(app);
    app.start(test_options());
    SocketClient client(app.port());
    ASSERT_TRUE(client.send(
        "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"));
    auto interim = client.read_response();
    ASSERT_TRUE(interim) << interim.error().message();
    EXPECT_EQ(interim->status, 100);
    ASSERT_TRUE(client.send("hello"));
    auto response = client.read_response();
    ASSERT_TRUE(response) << response.error().message();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body, "hello");
}

// --- background tasks ---

TEST(Server, NextRequestOnKeepAliveConnectionDoesNotWaitForBackgroundTask) {
    App app;
    auto& probe = app.state().emplace<Probe>();
    add_basic_routes(app);
    // The task sleeps (sleep_for) until the test releases it, so it is certainly still pending
    // when the second response arrives, however slow the machine.
    app.post("/slow-task", [](Request& request, BackgroundTasks& tasks) -> Task<Response> {
        tasks.add(task_until_released, &request.state().get<Probe>());
        co_return json_response({{"queued", true}});
    });
    app.start(test_options());
    ReleaseOnExit release{probe};

    SocketClient client(app.port());
    ASSERT_TRUE(client.send(format_request("POST", "/slow-task")));
    auto first = client.read_response();
    ASSERT_TRUE(first) << first.error().message();
    EXPECT_EQ(first->status, 200);
    EXPECT_FALSE(first->closes());

    ASSERT_TRUE(client.send(format_request("GET", "/healthz")));
    auto second = client.read_response();
    ASSERT_TRUE(second) << "the second request waited for the background task: "
                        << second.error().message();
    EXPECT_EQ(second->status, 200);
    EXPECT_EQ(app.background_stats().pending, 1u);
    EXPECT_FALSE(probe.task_finished);

    probe.release = true;
    EXPECT_TRUE(app.wait_background_idle(20s));
    EXPECT_TRUE(probe.task_finished);
    auto stats = app.background_stats();
    EXPECT_EQ(stats.succeeded, 1u);
    EXPECT_EQ(stats.pending, 0u);
}

TEST(Server, BackgroundTaskStartsOnlyAfterTheResponseIsWritten) {
    // 64 MiB cannot sit in the socket buffers between server and client (the client's receive
    // buffer is pinned at 64 KiB; Linux caps a send buffer at a few MiB), so while the client
    // holds off reading, the server's write cannot complete. Once the first body bytes have
    // arrived the server is writing: a task handed over before or during the write would
    // already show in the counters; a correct server has not scheduled it yet.
    constexpr std::size_t kBigBody = 64 * 1024 * 1024;
    App app;
    auto& probe = app.state().emplace<Probe>();
    app.get("/big", [](Request& request, BackgroundTasks& tasks) -> Task<Response> {
        tasks.add(mark_task_started, &request.state().get<Probe>());
        co_return text_response(200, std::string(kBigBody, 'x'));
    });
    app.start(test_options());

    SocketClient client(app.port(), {.receive_buffer = 64 * 1024});
    ASSERT_TRUE(client.send(format_request("GET", "/big")));
    auto started_body = client.receive_until([](std::string_view bytes) {
        auto end = bytes.find("\r\n\r\n");
        return end != std::string_view::npos && bytes.size() > end + 4;
    });
    ASSERT_TRUE(started_body) << started_body.error().message();
    EXPECT_EQ(app.background_stats().scheduled, 0u);
    EXPECT_FALSE(probe.task_started);

    auto response = client.read_response({.timeout = 60s});
    ASSERT_TRUE(response) << response.error().message();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body.size(), kBigBody);
    EXPECT_TRUE(app.wait_background_idle(20s));
    EXPECT_TRUE(probe.task_started);
    EXPECT_EQ(app.background_stats().succeeded, 1u);
}

TEST(Server, ClientThatLeavesBeforeTheResponseDoesNotCancelBackgroundTasks) {
    App app;
    auto& probe = app.state().emplace<Probe>();
    add_basic_routes(app);
    app.get("/wait", [](Request& request, BackgroundTasks& tasks) -> Task<Response> {
        auto* shared = &request.state().get<Probe>();
        shared->handler_entered = true;
        co_await wait_for_release(shared);
        tasks.add(mark_task_started, shared);
        co_return text_response(200, "done");
    });
    app.start(test_options());
    ReleaseOnExit release{probe};

    SocketClient client(app.port());
    ASSERT_TRUE(client.send(format_request("GET", "/wait")));
    ASSERT_TRUE(wait_until([&] { return probe.handler_entered.load(); }));
    client.reset();  // gone before the response exists
    probe.release = true;
    EXPECT_TRUE(wait_until([&] { return probe.task_finished.load(); }, 20s))
        << "the background task of a request whose client left did not run";
    EXPECT_TRUE(app.wait_background_idle(20s));
    EXPECT_EQ(app.background_stats().succeeded, 1u);
    expect_healthy(app.port());
}

// --- limits ---

TEST(ServerLimits, AnswersContentLengthOverBodyLimitWith413) {
    App app;
    add_basic_routes(app);
    auto options = test_options();
    options.limits.max_body_bytes = 1024;
    app.start(options);

    // The declared length alone is over the limit: the server answers without the body.
    SocketClient client(app.port());
    ASSERT_TRUE(client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"));
    auto response = client.read_response();
    ASSERT_TRUE(response) << response.error().message();
    EXPECT_EQ(response->status, 413);
    EXPECT_TRUE(response->closes());
    EXPECT_TRUE(client.read_until_closed());

    // At the limit is fine.
    auto at_limit = http_request(app.port(), "POST", "/echo", std::string(1024, 'a'));
    ASSERT_TRUE(at_limit) << at_limit.error().message();
    EXPECT_EQ(at_limit->status, 200);
    EXPECT_EQ(at_limit->body.size(), 1024u);
    expect_healthy(app.port());
}

TEST(ServerLimits, AnswersChunkedBodyOverBodyLimitWith413) {
    App app;
    add_basic_routes(app);
    auto options = test_options();
    options.limits.max_body_bytes = 1024;
    app.start(options);

    SocketClient client(app.port());
    // 1024 bytes in a first chunk are fine; the second chunk goes over.
    ASSERT_TRUE(
        client.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n400\r\n" +
                    std::string(1024, 'a') + "\r\n1\r\nb\r\n0\r\n\r\n"));
    auto response = client.read_response();
    ASSERT_TRUE(response) << response.error().message();
    EXPECT_EQ(response->status, 413);
    EXPECT_TRUE(client.read_until_closed());

    SocketClient within(app.port());
    ASSERT_TRUE(within.send(
        "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n"
        "2\r\nde\r\n0\r\n\r\n"));
    auto ok = within.read_response();
    ASSERT_TRUE(ok) << ok.error().message();
    EXPECT_EQ(ok->status, 200);
    EXPECT_EQ(ok->body, "abcde");
    expect_healthy(app.port());
}

TEST(ServerLimits, AnswersHeadersOverHeaderLimitWith431) {
    App app;
    add_basic_routes(app);
    auto options = test_options();
    options.limits.max_header_bytes = 4096;
    app.start(options);

    SocketClient client(app.port());
    ASSERT_TRUE(client.send(
        format_request("GET", "/healthz", {}, {{"X-Padding", std::string(8000, 'p')}})));
    auto response = client.read_response();
    ASSERT_TRUE(response) << response.error().message();
    EXPECT_EQ(response->status, 431);
    EXPECT_TRUE(client.read_until_closed());

    auto fits =
        http_request(app.port(), "GET", "/healthz", {}, {{"X-Padding", std::string(2000, 'p')}});
    ASSERT_TRUE(fits) << fits.error().message();
    EXPECT_EQ(fits->status, 200);
}

TEST(ServerLimits, ClosesClientStalledInRequestLineAfterHeaderTimeout) {
    App app;
    add_basic_routes(app);
    auto options = test_options();
    options.limits.header_timeout = 300ms;
    app.start(options);

    SocketClient stalled(app.port());
    ASSERT_TRUE(stalled.send("GET /heal"));
    // Others are served meanwhile.
    expect_healthy(app.port());
    auto rest = stalled.read_until_closed(20s);
    ASSERT_TRUE(rest) << "the stalled connection stayed open: " << rest.error().message();
    EXPECT_EQ(rest->find("HTTP/1.1 200"), std::string::npos);
    expect_healthy(app.port());
}

TEST(ServerLimits, ClosesSilentNewConnectionAfterHeaderTimeout) {
    App app;
    add_basic_routes(app);
    auto options = test_options();
    options.limits.header_timeout = 300ms;
    app.start(options);

    SocketClient silent(app.port());
    auto rest = silent.read_until_closed(20s);
    ASSERT_TRUE(rest) << "a connection that never sent a byte stayed open";
    EXPECT_EQ(*rest, "");
    expect_healthy(app.port());
}

TEST(ServerLimits, HeaderTimeoutBoundsAClientTricklingHeaders) {
    App app;
    add_basic_routes(app);
    auto options = test_options();
    options.limits.header_timeout = 300ms;
    app.start(options);

    // Slowloris: one header line after another, never the blank line. Each byte arrives well
    // within the timeout, but the whole head does not, so the server must give up on it.
    SocketClient client(app.port());
    ASSERT_TRUE(client.send("GET /healthz HTTP/1.1\r\n"));
    bool closed = false;
    const auto deadline = SteadyClock::now() + 20s;
    for (int i = 0; !closed && SteadyClock::now() < deadline; ++i) {
        // Waiting for the close is also the pause between two lines.
        closed = client.read_until_closed(50ms).has_value();
        if (!closed && !client.send("X-Trickle-" + std::to_string(i) + ": y\r\n")) closed = true;
    }
    EXPECT_TRUE(closed) << "a client trickling headers kept its connection for 20 s";
    expect_healthy(app.port());
}

TEST(ServerLimits, ClosesIdleKeepAliveConnectionAfterIdleTimeout) {
    App app;
    add_basic_routes(app);
    auto options = test_options();
    options.limits.idle_timeout = 300ms;
    app.start(options);

    SocketClient client(app.port());
    ASSERT_TRUE(client.send(format_request("GET", "/healthz")));
    auto response = client.read_response();
    ASSERT_TRUE(response) << response.error().message();
    EXPECT_EQ(response->status, 200);
    EXPECT_FALSE(response->closes());
    auto rest = client.read_until_closed(20s);
    ASSERT_TRUE(rest) << "the idle keep-alive connection stayed open";
    EXPECT_EQ(*rest, "");
    expect_healthy(app.port());
}

TEST(ServerLimits, AnswersConnectionsOverTheLimitWith503) {
    App app;
    add_basic_routes(app);
    auto options = test_options();
    options.limits.max_connections = 2;
    app.start(options);

    // Two connections, each proven accepted by a completed request.
    SocketClient first(app.port());
    SocketClient second(app.port());
    for (SocketClient* client : {&first, &second}) {
        ASSERT_TRUE(client->send(format_request("GET", "/healthz")));
        auto response = client->read_response();
        ASSERT_TRUE(response) << response.error().message();
        ASSERT_EQ(response->status, 200);
    }

    SocketClient third(app.port());
    auto refused = third.read_response();
    ASSERT_TRUE(refused) << refused.error().message();
    EXPECT_EQ(refused->status, 503);
    EXPECT_TRUE(refused->closes());
    EXPECT_TRUE(third.read_until_closed());

    // The connections already open keep being served.
    ASSERT_TRUE(first.send(format_request("GET", "/seq/1")));
    auto still = first.read_response();
    ASSERT_TRUE(still) << still.error().message();
    EXPECT_EQ(still->status, 200);

    // Once one leaves, a new client gets in.
    second.close();
    EXPECT_TRUE(wait_until(
        [&] {
            auto response = http_request(app.port(), "GET", "/healthz");
            return response && response->status == 200;
        },
        20s));
}

// --- graceful stop ---

TEST(ServerShutdown, StopFinishesInFlightRequestRefusesNewConnectionsAndDrainsTasks) {
    App app;
    auto& probe = app.state().emplace<Probe>();
    add_basic_routes(app);
    app.get("/wait", [](Request& request, BackgroundTasks& tasks) -> Task<Response> {
        auto* shared = &request.state().get<Probe>();
        shared->handler_entered = true;
        co_await wait_for_release(shared);
        tasks.add(mark_task_started, shared);
        co_return text_response(200, std::string(100'000, 'y'));
    });
    app.start(test_options());
    const auto port = app.port();
    ReleaseOnExit release{probe};

    SocketClient idle(port);
    ASSERT_TRUE(idle.send(format_request("GET", "/healthz")));
    ASSERT_TRUE(idle.read_response());

    SocketClient in_flight(port);
    ASSERT_TRUE(in_flight.send(format_request("GET", "/wait")));
    ASSERT_TRUE(wait_until([&] { return probe.handler_entered.load(); }));

    auto stopped = std::async(std::launch::async, [&app] { app.stop(); });
    ReleaseOnExit release_before_join{probe};  // runs before `stopped` waits for stop()

    // The listener closes: new connections are refused.
    EXPECT_TRUE(wait_until([&] {
        auto client = SocketClient::connect(port);
        return !client && client.error() == boost::system::errc::connection_refused;
    }));
    // The idle keep-alive connection is closed.
    EXPECT_TRUE(idle.read_until_closed());
    // Stop waits for the request in flight.
    EXPECT_EQ(stopped.wait_for(0s), std::future_status::timeout);

    probe.release = true;
    auto response = in_flight.read_response();
    ASSERT_TRUE(response) << "the in-flight request lost its response: "
                          << response.error().message();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->body.size(), 100'000u);
    EXPECT_TRUE(response->closes());
    EXPECT_TRUE(in_flight.read_until_closed());

    ASSERT_EQ(stopped.wait_for(30s), std::future_status::ready) << "stop() did not return";
    EXPECT_TRUE(probe.task_finished) << "the in-flight request's background task did not run";
    auto stats = app.background_stats();
    EXPECT_EQ(stats.succeeded, 1u);
    EXPECT_EQ(stats.abandoned, 0u);
    EXPECT_EQ(stats.pending, 0u);
}

TEST(ServerShutdown, StopCancelsRequestStillRunningAtDrainDeadline) {
    App app;
    auto& probe = app.state().emplace<Probe>();
    app.get("/hang", [](Request& request, BackgroundTasks& tasks) -> Task<Response> {
        auto* shared = &request.state().get<Probe>();
        tasks.add(mark_task_started, shared);  // dropped: the request does not complete
        shared->handler_entered = true;
        co_await wait_for_release_noting_abort(shared);
        co_return text_response(200, "released");
    });
    auto options = test_options();
    options.drain_timeout = 300ms;
    app.start(options);
    ReleaseOnExit release{probe};

    SocketClient client(app.port());
    ASSERT_TRUE(client.send(format_request("GET", "/hang")));
    ASSERT_TRUE(wait_until([&] { return probe.handler_entered.load(); }));

    auto stopped = std::async(std::launch::async, [&app] { app.stop(); });
    ReleaseOnExit release_before_join{probe};  // runs before `stopped` waits for stop()
    ASSERT_EQ(stopped.wait_for(30s), std::future_status::ready)
        << "stop() waited for a request past the drain deadline";
    EXPECT_TRUE(probe.task_aborted) << "the handler did not see operation_aborted";
    auto rest = client.read_until_closed();
    ASSERT_TRUE(rest) << "the cancelled request's connection stayed open";
    EXPECT_EQ(rest->find("released"), std::string::npos);
    EXPECT_FALSE(probe.task_started) << "a task of the cancelled request ran";
}

TEST(ServerShutdown, StopWaitsForBackgroundTasksWithinDrainTimeout) {
    App app;
    auto& probe = app.state().emplace<Probe>();
    app.post("/slow-task", [](Request& request, BackgroundTasks& tasks) -> Task<Response> {
        tasks.add(task_until_released, &request.state().get<Probe>());
        co_return json_response({{"queued", true}});
    });
    app.start(test_options());
    ReleaseOnExit release{probe};

    auto response = http_request(app.port(), "POST", "/slow-task");
    ASSERT_TRUE(response) << response.error().message();
    ASSERT_TRUE(wait_until([&] { return probe.task_started.load(); }));

    auto stopped = std::async(std::launch::async, [&app] { app.stop(); });
    ReleaseOnExit release_before_join{probe};  // runs before `stopped` waits for stop()
    // The task cannot end before the release, and stop must wait for it.
    EXPECT_TRUE(wait_until([&] {
        auto client = SocketClient::connect(app.port());
        return !client && client.error() == boost::system::errc::connection_refused;
    }));
    EXPECT_EQ(stopped.wait_for(0s), std::future_status::timeout);
    probe.release = true;
    ASSERT_EQ(stopped.wait_for(30s), std::future_status::ready) << "stop() did not return";
    EXPECT_TRUE(probe.task_finished);
    auto stats = app.background_stats();
    EXPECT_EQ(stats.succeeded, 1u);
    EXPECT_EQ(stats.abandoned, 0u);
}

TEST(ServerShutdown, StopCancelsBackgroundTaskStillRunningAtDrainDeadline) {
    App app;
    auto& probe = app.state().emplace<Probe>();
    app.post("/long-task", [](Request& request, BackgroundTasks& tasks) -> Task<Response> {
        tasks.add(sleep_long, &request.state().get<Probe>());
        co_return json_response({{"queued", true}});
    });
    auto options = test_options();
    options.drain_timeout = 300ms;
    app.start(options);

    auto response = http_request(app.port(), "POST", "/long-task");
    ASSERT_TRUE(response) << response.error().message();
    EXPECT_EQ(response->status, 200);
    ASSERT_TRUE(wait_until([&] { return probe.task_started.load(); }));
    EXPECT_EQ(app.background_stats().pending, 1u);

    auto stopped = std::async(std::launch::async, [&app] { app.stop(); });
    ASSERT_EQ(stopped.wait_for(30s), std::future_status::ready) << "stop() did not return";
    EXPECT_TRUE(probe.task_aborted) << "the task did not see operation_aborted";
    EXPECT_FALSE(probe.task_finished);
    auto stats = app.background_stats();
    EXPECT_EQ(stats.abandoned, 1u);
    EXPECT_EQ(stats.failed, 0u);
    EXPECT_EQ(stats.pending, 0u);
}

}  // namespace
}  // namespace afterwork
