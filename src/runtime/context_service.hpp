// SPDX-License-Identifier: MIT
#pragma once

// `context_service<Service>(executor)`: the Asio service `Service` of the execution context an
// executor belongs to, remembered per thread. A loop's tasks ask for their own context's
// service again and again (the task registry at every spawn, the timer heap at every sleep),
// and `use_service` takes a lock and walks a list. `Service` provides `generation()`, a counter
// its destructor bumps, so a cached pointer to a destroyed service (a context destroyed and
// another made at the same address) is never used.

#include <atomic>
#include <cstdint>

#include <boost/asio/execution/context.hpp>
#include <boost/asio/execution_context.hpp>
#include <boost/asio/query.hpp>

#include <afterwork/runtime/task.hpp>

namespace afterwork::detail {

template <class Service>
class GenerationCounted {
public:
    static std::atomic<std::uint64_t>& generation() noexcept {
        static std::atomic<std::uint64_t> value{0};
        return value;
    }

protected:
    GenerationCounted() = default;
    ~GenerationCounted() { generation().fetch_add(1, std::memory_order_release); }
};

/// `first_use(service, executor)` is called when this thread did not have the service cached.
template <class Service, class FirstUse>
Service& context_service(const Executor& executor, FirstUse first_use) {
    thread_local boost::asio::execution_context* last_context = nullptr;
    thread_local Service* last_service = nullptr;
    thread_local std::uint64_t last_generation = 0;
    auto& context = boost::asio::query(executor, boost::asio::execution::context);
    const auto generation = Service::generation().load(std::memory_order_acquire);
    if (&context != last_context || generation != last_generation) {
        auto& service = boost::asio::use_service<Service>(context);
        first_use(service, executor);
        last_context = &context;
        last_service = &service;
        last_generation = generation;
    }
    return *last_service;
}

template <class Service>
Service& context_service(const Executor& executor) {
    return context_service<Service>(executor, [](Service&, const Executor&) {});
}

}  // namespace afterwork::detail
