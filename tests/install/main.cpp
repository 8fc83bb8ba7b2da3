// SPDX-License-Identifier: MIT
// Uses the installed package from outside the tree: one route that adds a background task,
// driven in-process by the TestClient. Exits 0 when the response and the task are right.

#include <chrono>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <boost/json.hpp>

#include <afterwork/afterwork.hpp>  // the umbrella: every installed header must be there
#include <afterwork/testing/test_client.hpp>

namespace {

// What the background task did, read by main once the tasks have drained. Thread-safe.
class Greetings {
public:
    void add(std::string name) {
        std::lock_guard lock(mutex_);
        names_.push_back(std::move(name));
    }
    std::vector<std::string> names() const {
        std::lock_guard lock(mutex_);
        return names_;
    }

private:
    mutable std::mutex mutex_;
    std::vector<std::string> names_;
};

afterwork::Task<void> remember_greeting(std::shared_ptr<Greetings> greetings, std::string name) {
    co_await afterwork::sleep_for(std::chrono::milliseconds(1));
    greetings->add(std::move(name));
}

int fail(const std::string& message) {
    std::cerr << "consumer: " << message << "\n";
    return EXIT_FAILURE;
}

int run() {
    auto greetings = std::make_shared<Greetings>();
    afterwork::App app;
    app.state().emplace<std::shared_ptr<Greetings>>(greetings);
    app.post("/greet/{name}",
             [](afterwork::Request& request,
                afterwork::BackgroundTasks& tasks) -> afterwork::Task<afterwork::Response> {
                 auto name = std::string(request.path_param("name"));
                 tasks.add(remember_greeting, request.state().get<std::shared_ptr<Greetings>>(),
                           name);
                 co_return afterwork::json_response(202, {{"greeting", "hello " + name}});
             });

    afterwork::testing::TestClient client(app);
    auto response = client.post("/greet/ada");
    if (response.status != 202) {
        return fail("expected status 202, got " + std::to_string(response.status) + ": " +
                    response.body);
    }
    if (response.json() != boost::json::value(boost::json::object{{"greeting", "hello ada"}})) {
        return fail("unexpected body: " + response.body);
    }
    if (!client.wait_background(std::chrono::seconds(10))) {
        return fail("the background task did not finish within 10 s");
    }
    if (greetings->names() != std::vector<std::string>{"ada"}) {
        return fail("the background task did not run exactly once");
    }
    std::cout << "consumer: ok\n";
    return EXIT_SUCCESS;
}

}  // namespace

int main() {
    try {
        return run();
    } catch (const std::exception& e) {
        return fail(std::string("unexpected exception: ") + e.what());
    }
}
