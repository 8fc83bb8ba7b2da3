// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `detail::UniqueFunction<R()>`: a move-only `std::function` (C++23's `move_only_function` is
/// not in g++ 12), so tasks can own move-only arguments.
///
/// @par Thread safety
/// Distinct objects safe, shared unsafe.

#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

namespace afterwork::detail {

template <class Signature>
class UniqueFunction;

template <class R, class... Args>
class UniqueFunction<R(Args...)> {
public:
    UniqueFunction() noexcept = default;
    UniqueFunction(std::nullptr_t) noexcept {}

    template <class F>
        requires(!std::is_same_v<std::remove_cvref_t<F>, UniqueFunction> &&
                 std::is_invocable_r_v<R, std::decay_t<F>&, Args...>)
    UniqueFunction(F&& f)  // NOLINT(google-explicit-constructor): a function wrapper
        : callable_(std::make_unique<Model<std::decay_t<F>>>(std::forward<F>(f))) {}

    UniqueFunction(UniqueFunction&&) noexcept = default;
    UniqueFunction& operator=(UniqueFunction&&) noexcept = default;
    ~UniqueFunction() = default;

    explicit operator bool() const noexcept { return callable_ != nullptr; }

    R operator()(Args... args) { return callable_->call(std::forward<Args>(args)...); }

private:
    struct Concept {
        virtual ~Concept() = default;
        virtual R call(Args... args) = 0;
    };
    template <class F>
    struct Model final : Concept {
        template <class G>
        explicit Model(G&& g) : f(std::forward<G>(g)) {}
        R call(Args... args) override { return std::invoke(f, std::forward<Args>(args)...); }
        F f;
    };
    std::unique_ptr<Concept> callable_;
};

}  // namespace afterwork::detail
