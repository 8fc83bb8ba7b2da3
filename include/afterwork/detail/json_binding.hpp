// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// The generic half of afterwork's JSON binding: maps JSON onto C++ types with pydantic v2's
/// lax-mode rules, collecting every issue with its location, and maps C++ values back to JSON
/// (`to_json`). Shared by the http layer (request bodies, parameters and responses, see
/// `afterwork/http/json_binding.hpp`, which documents the rules and supported types) and the
/// jobs layer (job arguments checked when enqueued, results stored as JSON), so both validate
/// the same way. Built into `afterwork::jobs`, the lowest layer that uses JSON.
///
/// Internal: users include `afterwork/http/json_binding.hpp` or `afterwork/jobs/queue.hpp`.
///
/// @par Thread safety
/// Pure functions, safe from any thread.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <utility>
#include <vector>

// The macros too: users who include only afterwork/jobs/queue.hpp describe their job arguments.
#include <boost/describe/class.hpp>
#include <boost/describe/enum.hpp>
#include <boost/describe/enumerators.hpp>
#include <boost/describe/members.hpp>
#include <boost/describe/modifiers.hpp>
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/string.hpp>
#include <boost/json/value.hpp>
#include <boost/mp11/algorithm.hpp>

#include <afterwork/detail/validation_issue.hpp>

namespace afterwork {

namespace detail {

/// Why one input was rejected, in pydantic's words: message and type.
struct Failure {
    std::string msg;
    std::string type;
};

/// An integer read from JSON or text, before the range check against the target type.
struct IntegerInput {
    bool negative = false;
    std::uintmax_t magnitude = 0;
    bool overflow = false;  ///< The magnitude does not fit in `std::uintmax_t`.
};

// Non-template helpers, in src/http/json_binding.cpp. Each returns the failure, or nullopt when
// `out` was set.
std::optional<Failure> integer_from_json(const boost::json::value& v, IntegerInput& out);
std::optional<Failure> integer_from_text(std::string_view text, IntegerInput& out);
std::optional<Failure> check_integer_range(const IntegerInput& in,
                                           std::intmax_t min,
                                           std::uintmax_t max);
std::optional<Failure> double_from_json(const boost::json::value& v, double& out);
std::optional<Failure> double_from_text(std::string_view text, double& out);
std::optional<Failure> check_double_range(double v, double max);  ///< For narrower types.
std::optional<Failure> bool_from_json(const boost::json::value& v, bool& out);
std::optional<Failure> bool_from_text(std::string_view text, bool& out);
Failure enum_failure(std::span<const char* const> names);
Failure failure(std::string_view type);  ///< The fixed message for a type such as `list_type`.

template <class T>
inline constexpr bool dependent_false = false;

template <class T>
struct is_optional : std::false_type {};
template <class U>
struct is_optional<std::optional<U>> : std::true_type {};

template <class T>
struct is_vector : std::false_type {};
template <class U, class A>
struct is_vector<std::vector<U, A>> : std::true_type {};

template <class T>
struct is_string_map : std::false_type {};
template <class U, class C, class A>
struct is_string_map<std::map<std::string, U, C, A>> : std::true_type {};
template <class U, class H, class E, class A>
struct is_string_map<std::unordered_map<std::string, U, H, E, A>> : std::true_type {};

template <class T>
inline constexpr bool is_described_enum = boost::describe::has_describe_enumerators<T>::value;
template <class T>
inline constexpr bool is_described_struct =
    std::conjunction_v<std::is_class<T>, boost::describe::has_describe_members<T>>;

template <class T>
using described_members =
    boost::describe::describe_members<T,
                                      boost::describe::mod_public | boost::describe::mod_inherited>;

template <class E>
std::optional<Failure> enum_from_text(std::string_view text, E& out) {
    bool found = false;
    boost::mp11::mp_for_each<boost::describe::describe_enumerators<E>>([&](auto d) {
        if (!found && text == d.name) {
            out = d.value;
            found = true;
        }
    });
    if (found) {
        return std::nullopt;
    }
    std::vector<const char*> names;
    boost::mp11::mp_for_each<boost::describe::describe_enumerators<E>>(
        [&](auto d) { names.push_back(d.name); });
    return enum_failure(names);
}

template <class T>
std::optional<Failure> integral_from(const IntegerInput& in, T& out) {
    static_assert(sizeof(T) <= sizeof(std::intmax_t),
                  "afterwork: integers wider than std::intmax_t are not supported");
    if (auto f = check_integer_range(in,
                                     static_cast<std::intmax_t>(std::numeric_limits<T>::min()),
                                     static_cast<std::uintmax_t>(std::numeric_limits<T>::max()))) {
        return f;
    }
    // In range, so the magnitude fits; -(m - 1) - 1 reaches the minimum without overflowing.
    out = in.negative && in.magnitude != 0
              ? static_cast<T>(-static_cast<std::intmax_t>(in.magnitude - 1) - 1)
              : static_cast<T>(in.magnitude);
    return std::nullopt;
}

template <class T>
std::optional<Failure> floating_from(double d, T& out) {
    if constexpr (std::numeric_limits<T>::max() < std::numeric_limits<double>::max()) {
        if (auto f = check_double_range(d, static_cast<double>(std::numeric_limits<T>::max()))) {
            return f;
        }
    }
    out = static_cast<T>(d);
    return std::nullopt;
}

/// The issue for text that is not a `T` at all (as opposed to out of range).
template <class T>
Failure parsing_failure() {
    if constexpr (std::is_same_v<T, bool>) {
        return failure("bool_parsing");
    } else if constexpr (std::is_integral_v<T>) {
        return failure("int_parsing");
    } else if constexpr (std::is_floating_point_v<T>) {
        return failure("float_parsing");
    } else if constexpr (is_described_enum<T>) {
        T unused{};
        return *enum_from_text(std::string_view{}, unused);
    } else {
        return failure("string_type");
    }
}

/// Reads URL text (a path or query parameter) into `out`.
template <class T>
std::optional<Failure> from_text(std::string_view text, T& out) {
    if constexpr (std::is_same_v<T, std::string>) {
        out.assign(text);
        return std::nullopt;
    } else if constexpr (std::is_same_v<T, bool>) {
        return bool_from_text(text, out);
    } else if constexpr (std::is_integral_v<T>) {
        IntegerInput in;
        if (auto f = integer_from_text(text, in)) {
            return f;
        }
        return integral_from(in, out);
    } else if constexpr (std::is_floating_point_v<T>) {
        double d = 0;
        if (auto f = double_from_text(text, d)) {
            return f;
        }
        return floating_from(d, out);
    } else if constexpr (is_described_enum<T>) {
        return enum_from_text(text, out);
    } else {
        static_assert(dependent_false<T>,
                      "afterwork::parse_text supports std::string, bool, integral and floating "
                      "types and enums described with BOOST_DESCRIBE_ENUM");
    }
}

/// Where `bind_value` is in the input, and what it has found wrong so far.
struct BindContext {
    boost::json::array loc;
    std::vector<ValidationIssue> issues;

    void fail(Failure f) { issues.push_back({loc, std::move(f.msg), std::move(f.type)}); }
    void check(std::optional<Failure> f) {
        if (f) {
            fail(std::move(*f));
        }
    }
};

/// Binds `v` onto `out`, recording issues in `ctx` instead of stopping at the first. On an
/// issue `out` keeps its previous value.
template <class T>
void bind_value(const boost::json::value& v, T& out, BindContext& ctx) {
    namespace json = boost::json;
    if constexpr (std::is_same_v<T, bool>) {
        ctx.check(bool_from_json(v, out));
    } else if constexpr (std::is_integral_v<T>) {
        IntegerInput in;
        auto f = integer_from_json(v, in);
        ctx.check(f ? std::move(f) : integral_from(in, out));
    } else if constexpr (std::is_floating_point_v<T>) {
        double d = 0;
        auto f = double_from_json(v, d);
        ctx.check(f ? std::move(f) : floating_from(d, out));
    } else if constexpr (std::is_same_v<T, std::string>) {
        if (const auto* s = v.if_string()) {
            out.assign(s->data(), s->size());
        } else {
            ctx.fail(failure("string_type"));
        }
    } else if constexpr (std::is_same_v<T, json::value>) {
        out = v;
    } else if constexpr (std::is_same_v<T, json::object>) {
        if (v.is_object()) {
            out = v.get_object();
        } else {
            ctx.fail(failure("dict_type"));
        }
    } else if constexpr (std::is_same_v<T, json::array>) {
        if (v.is_array()) {
            out = v.get_array();
        } else {
            ctx.fail(failure("list_type"));
        }
    } else if constexpr (is_optional<T>::value) {
        if (v.is_null()) {
            out.reset();
            return;
        }
        typename T::value_type inner{};
        const auto before = ctx.issues.size();
        bind_value(v, inner, ctx);
        if (ctx.issues.size() == before) {
            out = std::move(inner);
        }
    } else if constexpr (is_vector<T>::value) {
        const auto* items = v.if_array();
        if (!items) {
            ctx.fail(failure("list_type"));
            return;
        }
        T result;
        result.reserve(items->size());
        for (std::size_t i = 0; i < items->size(); ++i) {
            typename T::value_type item{};
            ctx.loc.emplace_back(static_cast<std::int64_t>(i));
            bind_value((*items)[i], item, ctx);
            ctx.loc.pop_back();
            result.push_back(std::move(item));
        }
        out = std::move(result);
    } else if constexpr (is_string_map<T>::value) {
        const auto* fields = v.if_object();
        if (!fields) {
            ctx.fail(failure("dict_type"));
            return;
        }
        T result;
        for (const auto& field : *fields) {
            typename T::mapped_type item{};
            ctx.loc.emplace_back(field.key());
            bind_value(field.value(), item, ctx);
            ctx.loc.pop_back();
            result.emplace(std::string(field.key()), std::move(item));
        }
        out = std::move(result);
    } else if constexpr (is_described_enum<T>) {
        const auto* s = v.if_string();
        ctx.check(enum_from_text(s ? std::string_view(*s) : std::string_view{}, out));
    } else if constexpr (is_described_struct<T>) {
        static_assert(std::is_default_constructible_v<T>,
                      "afterwork::bind_json: a described struct must be default-constructible");
        const auto* fields = v.if_object();
        if (!fields) {
            ctx.fail(failure("model_attributes_type"));
            return;
        }
        boost::mp11::mp_for_each<described_members<T>>([&](auto d) {
            auto& member = out.*d.pointer;
            ctx.loc.emplace_back(d.name);
            if (const auto* field = fields->if_contains(d.name)) {
                bind_value(*field, member, ctx);
            } else if constexpr (!is_optional<std::remove_cvref_t<decltype(member)>>::value) {
                ctx.fail(failure("missing"));
            }
            ctx.loc.pop_back();
        });
    } else {
        static_assert(dependent_false<T>,
                      "afterwork::bind_json supports bool, integral and floating types, "
                      "std::string, std::optional, std::vector, std::map/std::unordered_map "
                      "keyed by std::string, boost::json::value/object/array, and enums and "
                      "structs described with BOOST_DESCRIBE_ENUM / BOOST_DESCRIBE_STRUCT");
    }
}

}  // namespace detail

namespace detail {

/// Binds `v` onto a fresh `T` located at `loc`; the issues found (empty when `out` is valid).
template <class T>
std::vector<ValidationIssue> bind_json_issues(const boost::json::value& v, T& out,
                                              boost::json::array loc) {
    BindContext ctx{std::move(loc), {}};
    bind_value(v, out, ctx);
    return std::move(ctx.issues);
}

/// "args.email: Field required; args.age: Input should be a valid integer" — the issues in
/// one line, FastAPI's `loc` joined with dots (indexes in brackets) then pydantic's message.
std::string describe_issues(const std::vector<ValidationIssue>& issues);

}  // namespace detail

/// Converts a value to JSON for a response: the inverse of `bind_json`.
///
/// Described structs become objects (an empty `std::optional` member becomes `null`), described
/// enums their enumerator name (or the underlying integer if none matches), vectors arrays,
/// string-keyed maps objects; strings, numbers, bools and JSON values are copied.
template <class T>
boost::json::value to_json(const T& value) {
    namespace json = boost::json;
    if constexpr (std::is_same_v<T, json::value> || std::is_same_v<T, json::object> ||
                  std::is_same_v<T, json::array> || std::is_same_v<T, json::string>) {
        return json::value(value);
    } else if constexpr (std::is_same_v<T, bool>) {
        return json::value(value);
    } else if constexpr (std::is_integral_v<T> && std::is_signed_v<T>) {
        return json::value(static_cast<std::int64_t>(value));
    } else if constexpr (std::is_integral_v<T>) {
        return json::value(static_cast<std::uint64_t>(value));
    } else if constexpr (std::is_floating_point_v<T>) {
        return json::value(static_cast<double>(value));
    } else if constexpr (std::is_convertible_v<const T&, std::string_view>) {
        return json::value(json::string(std::string_view(value)));
    } else if constexpr (std::is_same_v<T, std::nullopt_t>) {
        return nullptr;
    } else if constexpr (detail::is_optional<T>::value) {
        return value ? to_json(*value) : json::value(nullptr);
    } else if constexpr (detail::is_vector<T>::value) {
        json::array items;
        items.reserve(value.size());
        for (const auto& item : value) {
            items.push_back(to_json(item));
        }
        return items;
    } else if constexpr (detail::is_string_map<T>::value) {
        json::object fields;
        for (const auto& [key, item] : value) {
            fields.emplace(key, to_json(item));
        }
        return fields;
    } else if constexpr (detail::is_described_enum<T>) {
        json::value out = to_json(static_cast<std::underlying_type_t<T>>(value));
        boost::mp11::mp_for_each<boost::describe::describe_enumerators<T>>([&](auto d) {
            if (out.is_number() && value == d.value) {
                out = d.name;
            }
        });
        return out;
    } else if constexpr (detail::is_described_struct<T>) {
        json::object fields;
        boost::mp11::mp_for_each<detail::described_members<T>>(
            [&](auto d) { fields.emplace(d.name, to_json(value.*d.pointer)); });
        return fields;
    } else {
        static_assert(detail::dependent_false<T>,
                      "afterwork::to_json supports the types bind_json supports, plus "
                      "std::string_view and boost::json::string");
    }
}

}  // namespace afterwork
