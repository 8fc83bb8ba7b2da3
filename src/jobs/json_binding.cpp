// SPDX-License-Identifier: MIT
#include <afterwork/detail/json_binding.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include <boost/json/serialize.hpp>

namespace afterwork {

namespace detail {

namespace {

// Python's str.strip() set, which pydantic applies before parsing numbers from strings.
constexpr std::string_view kWhitespace = " \t\n\r\f\v";

std::string_view trim(std::string_view s) {
    const auto first = s.find_first_not_of(kWhitespace);
    if (first == std::string_view::npos) {
        return {};
    }
    return s.substr(first, s.find_last_not_of(kWhitespace) - first + 1);
}

bool iequals(std::string_view a, std::string_view b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
        return (x >= 'A' && x <= 'Z' ? x - 'A' + 'a' : x) == y;
    });
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// 2^64 as a double: every double at least this large is beyond std::uintmax_t.
constexpr double kTwoPow64 = 18446744073709551616.0;

// from_chars reports overflow and underflow alike as result_out_of_range. The input is a
// validated decimal; the decimal exponent of its first significant digit tells them apart.
bool overflows(std::string_view text) {
    std::string_view mantissa = text;
    long long exponent = 0;
    if (const auto e = text.find_first_of("eE"); e != std::string_view::npos) {
        mantissa = text.substr(0, e);
        std::string_view digits = text.substr(e + 1);
        const bool negative = !digits.empty() && digits.front() == '-';
        if (!digits.empty() && (digits.front() == '-' || digits.front() == '+')) {
            digits.remove_prefix(1);
        }
        constexpr long long kHuge = std::numeric_limits<long long>::max() / 2;
        if (std::from_chars(digits.data(), digits.data() + digits.size(), exponent).ec !=
            std::errc{}) {
            exponent = kHuge;  // Saturate: far beyond any double either way.
        }
        exponent = std::min(exponent, kHuge);
        if (negative) {
            exponent = -exponent;
        }
    }
    const auto dot = std::min(mantissa.find('.'), mantissa.size());
    const auto first = mantissa.find_first_of("123456789");
    if (first == std::string_view::npos) {
        return false;
    }
    const long long lead = first < dot ? static_cast<long long>(dot - first - 1)
                                       : -static_cast<long long>(first - dot);
    return lead + exponent >= 0;
}

}  // namespace

Failure failure(std::string_view type) {
    struct Entry {
        std::string_view type;
        std::string_view msg;
    };
    static constexpr Entry kMessages[] = {
        {"missing", "Field required"},
        {"model_attributes_type",
         "Input should be a valid dictionary or object to extract fields from"},
        {"string_type", "Input should be a valid string"},
        {"int_type", "Input should be a valid integer"},
        {"int_parsing", "Input should be a valid integer, unable to parse string as an integer"},
        {"int_from_float", "Input should be a valid integer, got a number with a fractional part"},
        {"float_type", "Input should be a valid number"},
        {"float_parsing", "Input should be a valid number, unable to parse string as a number"},
        {"finite_number", "Input should be a finite number"},
        {"bool_type", "Input should be a valid boolean"},
        {"bool_parsing", "Input should be a valid boolean, unable to interpret input"},
        {"list_type", "Input should be a valid list"},
        {"dict_type", "Input should be a valid dictionary"},
        {"json_invalid", "JSON decode error"},
    };
    for (const auto& entry : kMessages) {
        if (entry.type == type) {
            return {std::string(entry.msg), std::string(entry.type)};
        }
    }
    return {"Invalid input", std::string(type)};
}

Failure enum_failure(std::span<const char* const> names) {
    std::string msg = "Input should be ";
    for (std::size_t i = 0; i < names.size(); ++i) {
        if (i > 0) {
            msg += i + 1 == names.size() ? " or " : ", ";
        }
        msg += '\'';
        msg += names[i];
        msg += '\'';
    }
    return {std::move(msg), "enum"};
}

std::optional<Failure> integer_from_text(std::string_view text, IntegerInput& out) {
    text = trim(text);
    IntegerInput in;
    if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
        in.negative = text.front() == '-';
        text.remove_prefix(1);
    }
    if (text.empty() || !std::all_of(text.begin(), text.end(), is_digit)) {
        return failure("int_parsing");
    }
    constexpr auto kMax = std::numeric_limits<std::uintmax_t>::max();
    for (const char c : text) {
        const auto digit = static_cast<std::uintmax_t>(c - '0');
        if (in.magnitude > (kMax - digit) / 10) {
            // No need to read further: the value is out of every supported range.
            in.overflow = true;
            in.magnitude = kMax;
            break;
        }
        in.magnitude = in.magnitude * 10 + digit;
    }
    out = in;
    return std::nullopt;
}

std::optional<Failure> integer_from_json(const boost::json::value& v, IntegerInput& out) {
    switch (v.kind()) {
        case boost::json::kind::int64: {
            const auto i = v.get_int64();
            out.negative = i < 0;
            // Negate in unsigned arithmetic: -INT64_MIN does not fit in int64.
            out.magnitude =
                i < 0 ? 0 - static_cast<std::uintmax_t>(i) : static_cast<std::uintmax_t>(i);
            return std::nullopt;
        }
        case boost::json::kind::uint64:
            out.magnitude = v.get_uint64();
            return std::nullopt;
        case boost::json::kind::double_: {
            const double d = v.get_double();
            if (std::isnan(d)) {
                return failure("finite_number");
            }
            out.negative = d < 0;
            // Out of every supported range, infinity included (Boost.JSON's reading of an
            // integer literal too large for a double): a range issue, as pydantic's unbounded
            // ints would give for the literal.
            if (std::abs(d) >= kTwoPow64) {
                out.overflow = true;
                out.magnitude = std::numeric_limits<std::uintmax_t>::max();
                return std::nullopt;
            }
            if (std::trunc(d) != d) {
                return failure("int_from_float");
            }
            out.magnitude = static_cast<std::uintmax_t>(std::abs(d));
            return std::nullopt;
        }
        case boost::json::kind::string:
            return integer_from_text(v.get_string(), out);
        default:
            return failure("int_type");
    }
}

std::optional<Failure> check_integer_range(const IntegerInput& in,
                                           std::intmax_t min,
                                           std::uintmax_t max) {
    if (in.negative && (in.overflow || in.magnitude != 0)) {
        // |min| computed without negating min itself, which overflows for INTMAX_MIN.
        const std::uintmax_t min_magnitude =
            min >= 0 ? 0 : static_cast<std::uintmax_t>(-(min + 1)) + 1;
        if (in.overflow || in.magnitude > min_magnitude) {
            return Failure{"Input should be greater than or equal to " + std::to_string(min),
                           "greater_than_equal"};
        }
    } else if (in.overflow || in.magnitude > max) {
        return Failure{"Input should be less than or equal to " + std::to_string(max),
                       "less_than_equal"};
    }
    return std::nullopt;
}

std::optional<Failure> double_from_text(std::string_view text, double& out) {
    text = trim(text);
    // from_chars has no leading '+' and accepts "inf"/"nan", which we refuse: only digits, one
    // sign, a point and an exponent get through to it.
    std::string_view number = text;
    if (!number.empty() && number.front() == '+') {
        number.remove_prefix(1);
        if (!number.empty() && number.front() == '-') {
            return failure("float_parsing");
        }
    }
    const bool plain = std::all_of(number.begin(), number.end(), [](char c) {
        return is_digit(c) || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
    });
    if (number.empty() || !plain) {
        return failure("float_parsing");
    }
    double d = 0;
    const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), d);
    if (end != number.data() + number.size() ||
        (ec != std::errc{} && ec != std::errc::result_out_of_range)) {
        return failure("float_parsing");
    }
    if (ec == std::errc::result_out_of_range) {
        if (overflows(number)) {
            return failure("finite_number");
        }
        d = number.front() == '-' ? -0.0 : 0.0;
    }
    out = d;
    return std::nullopt;
}

std::optional<Failure> double_from_json(const boost::json::value& v, double& out) {
    switch (v.kind()) {
        case boost::json::kind::int64:
            out = static_cast<double>(v.get_int64());
            return std::nullopt;
        case boost::json::kind::uint64:
            out = static_cast<double>(v.get_uint64());
            return std::nullopt;
        case boost::json::kind::double_:
            if (!std::isfinite(v.get_double())) {
                return failure("finite_number");
            }
            out = v.get_double();
            return std::nullopt;
        case boost::json::kind::string:
            return double_from_text(v.get_string(), out);
        default:
            return failure("float_type");
    }
}

std::optional<Failure> check_double_range(double v, double max) {
    if (std::abs(v) > max) {
        return failure("finite_number");
    }
    return std::nullopt;
}

std::optional<Failure> bool_from_text(std::string_view text, bool& out) {
    // pydantic matches these case-insensitively and, unlike numbers, without stripping.
    for (const std::string_view word : {"true", "1", "yes", "on", "t", "y"}) {
        if (iequals(text, word)) {
            out = true;
            return std::nullopt;
        }
    }
    for (const std::string_view word : {"false", "0", "no", "off", "f", "n"}) {
        if (iequals(text, word)) {
            out = false;
            return std::nullopt;
        }
    }
    return failure("bool_parsing");
}

std::optional<Failure> bool_from_json(const boost::json::value& v, bool& out) {
    switch (v.kind()) {
        case boost::json::kind::bool_:
            out = v.get_bool();
            return std::nullopt;
        case boost::json::kind::int64:
        case boost::json::kind::uint64:
        case boost::json::kind::double_: {
            // Only 0 and 1 are booleans; both convert to double exactly, and nothing else
            // converts to them.
            const auto n = v.to_number<double>();
            if (n != 0 && n != 1) {
                return failure("bool_parsing");
            }
            out = n == 1;
            return std::nullopt;
        }
        case boost::json::kind::string:
            return bool_from_text(v.get_string(), out);
        default:
            return failure("bool_type");
    }
}

std::string describe_issues(const std::vector<ValidationIssue>& issues) {
    // Dotted as the http layer's log summary writes a loc ("args.tags.2").
    std::string out;
    for (const auto& issue : issues) {
        if (!out.empty()) out += "; ";
        std::string loc;
        for (const auto& part : issue.loc) {
            if (!loc.empty()) loc += '.';
            if (const auto* text = part.if_string()) {
                loc.append(text->data(), text->size());
            } else {
                loc += boost::json::serialize(part);
            }
        }
        if (!loc.empty()) out += loc + ": ";
        out += issue.msg;
    }
    return out;
}

}  // namespace detail

}  // namespace afterwork
