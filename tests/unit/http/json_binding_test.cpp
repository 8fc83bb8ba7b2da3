// SPDX-License-Identifier: MIT
#include <afterwork/http/json_binding.hpp>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <gtest/gtest.h>
#include <boost/describe/class.hpp>
#include <boost/describe/enum.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <afterwork/http/errors.hpp>

namespace {

namespace json = boost::json;
using afterwork::bind_json;
using afterwork::parse_json_body;
using afterwork::parse_text;
using afterwork::text_issue;
using afterwork::ValidationError;
using afterwork::ValidationIssue;

enum class Color { red, green, blue };
BOOST_DESCRIBE_ENUM(Color, red, green, blue)

enum class Single { only };
BOOST_DESCRIBE_ENUM(Single, only)

struct Address {
    std::string street;
    std::string zip;
};
BOOST_DESCRIBE_STRUCT(Address, (), (street, zip))

struct User {
    std::string name;
    std::string email;
    int age = 0;
    std::optional<std::string> source = "organic";
    std::vector<std::string> tags;
    std::optional<Address> address;
    Color color = Color::red;
    std::map<std::string, int> scores;
};
BOOST_DESCRIBE_STRUCT(User, (), (name, email, age, source, tags, address, color, scores))

struct Order {
    Address ship_to;
    std::vector<Address> stops;
};
BOOST_DESCRIBE_STRUCT(Order, (), (ship_to, stops))

struct Base {
    std::string id;
};
BOOST_DESCRIBE_STRUCT(Base, (), (id))

struct Derived : Base {
    int count = 0;
};
BOOST_DESCRIBE_STRUCT(Derived, (Base), (count))

// The issues bind_json<T> throws for `v`; records a failure if it does not throw.
template <class T>
std::vector<ValidationIssue> bind_issues(const json::value& v) {
    try {
        bind_json<T>(v);
    } catch (const ValidationError& e) {
        return e.issues();
    }
    ADD_FAILURE() << "bind_json accepted " << json::serialize(v);
    return {};
}

// The type string of the one issue bind_json<T> reports for `v`.
template <class T>
std::string issue_type(const json::value& v) {
    const auto issues = bind_issues<T>(v);
    if (issues.size() != 1) {
        ADD_FAILURE() << "expected one issue for " << json::serialize(v) << ", got "
                      << issues.size();
        return {};
    }
    EXPECT_EQ(issues[0].loc, (json::array{"body"}));
    return issues[0].type;
}

// The one issue parse_json_body reports for `body`.
ValidationIssue body_issue(std::string_view body) {
    try {
        parse_json_body(body);
    } catch (const ValidationError& e) {
        EXPECT_EQ(e.issues().size(), 1u);
        return e.issues().at(0);
    }
    ADD_FAILURE() << "parse_json_body accepted " << body;
    return {};
}

// --- strings ---------------------------------------------------------------------------------

TEST(JsonBinding, StringAcceptsString) {
    EXPECT_EQ(bind_json<std::string>("héllo"), "héllo");
    EXPECT_EQ(bind_json<std::string>(""), "");
}

TEST(JsonBinding, StringRejectsNumbersBoolsAndNull) {
    EXPECT_EQ(issue_type<std::string>(42), "string_type");
    EXPECT_EQ(issue_type<std::string>(1.5), "string_type");
    EXPECT_EQ(issue_type<std::string>(true), "string_type");
    EXPECT_EQ(issue_type<std::string>(nullptr), "string_type");
    EXPECT_EQ(issue_type<std::string>(json::array{"a"}), "string_type");
    EXPECT_EQ(bind_issues<std::string>(42).at(0).msg, "Input should be a valid string");
}

// --- integers --------------------------------------------------------------------------------

TEST(JsonBinding, IntAcceptsIntegersWholeDoublesAndIntegerStrings) {
    EXPECT_EQ(bind_json<int>(42), 42);
    EXPECT_EQ(bind_json<int>(-7), -7);
    EXPECT_EQ(bind_json<int>(3.0), 3);
    EXPECT_EQ(bind_json<int>(-3.0), -3);
    EXPECT_EQ(bind_json<int>(json::parse("1e2")), 100);
    EXPECT_EQ(bind_json<int>("42"), 42);
    EXPECT_EQ(bind_json<int>(" 42\n"), 42);
    EXPECT_EQ(bind_json<int>("+5"), 5);
    EXPECT_EQ(bind_json<int>("-0"), 0);
    EXPECT_EQ(bind_json<int>("007"), 7);
}

TEST(JsonBinding, IntRejectsBoolNullAndContainers) {
    EXPECT_EQ(issue_type<int>(true), "int_type");
    EXPECT_EQ(issue_type<int>(false), "int_type");
    EXPECT_EQ(issue_type<int>(nullptr), "int_type");
    EXPECT_EQ(issue_type<int>(json::array{1}), "int_type");
    EXPECT_EQ(issue_type<int>(json::object{}), "int_type");
    EXPECT_EQ(bind_issues<int>(true).at(0).msg, "Input should be a valid integer");
}

TEST(JsonBinding, IntRejectsUnparsableStrings) {
    for (const char* text : {"12a", "", " ", "1.5", "1e3", "- 1", "+-1", "0x10", "1_000", "١"}) {
        EXPECT_EQ(issue_type<int>(text), "int_parsing") << text;
    }
    EXPECT_EQ(bind_issues<int>("12a").at(0).msg,
              "Input should be a valid integer, unable to parse string as an integer");
}

TEST(JsonBinding, IntRejectsFractionalDouble) {
    EXPECT_EQ(issue_type<int>(1.5), "int_from_float");
    EXPECT_EQ(issue_type<unsigned>(-0.5), "int_from_float");
    EXPECT_EQ(bind_issues<int>(1.5).at(0).msg,
              "Input should be a valid integer, got a number with a fractional part");
}

TEST(JsonBinding, IntRejectsNan) {
    EXPECT_EQ(issue_type<int>(std::numeric_limits<double>::quiet_NaN()), "finite_number");
}

TEST(JsonBinding, Int8RangeEdges) {
    EXPECT_EQ(bind_json<std::int8_t>(127), 127);
    EXPECT_EQ(bind_json<std::int8_t>(-128), -128);
    auto above = bind_issues<std::int8_t>(128).at(0);
    EXPECT_EQ(above.type, "less_than_equal");
    EXPECT_EQ(above.msg, "Input should be less than or equal to 127");
    auto below = bind_issues<std::int8_t>(-129).at(0);
    EXPECT_EQ(below.type, "greater_than_equal");
    EXPECT_EQ(below.msg, "Input should be greater than or equal to -128");
    EXPECT_EQ(issue_type<std::int8_t>("128"), "less_than_equal");
    EXPECT_EQ(issue_type<std::int8_t>(128.0), "less_than_equal");
}

TEST(JsonBinding, Uint16RangeEdges) {
    EXPECT_EQ(bind_json<std::uint16_t>(65535), 65535);
    EXPECT_EQ(bind_json<std::uint16_t>(0), 0);
    EXPECT_EQ(bind_json<std::uint16_t>("-0"), 0);
    EXPECT_EQ(bind_issues<std::uint16_t>(65536).at(0).msg,
              "Input should be less than or equal to 65535");
    auto negative = bind_issues<std::uint16_t>(-1).at(0);
    EXPECT_EQ(negative.type, "greater_than_equal");
    EXPECT_EQ(negative.msg, "Input should be greater than or equal to 0");
    EXPECT_EQ(issue_type<std::uint16_t>("-1"), "greater_than_equal");
}

TEST(JsonBinding, Int64RangeEdges) {
    constexpr auto kMax = std::numeric_limits<std::int64_t>::max();
    constexpr auto kMin = std::numeric_limits<std::int64_t>::min();
    EXPECT_EQ(bind_json<std::int64_t>(json::parse("9223372036854775807")), kMax);
    EXPECT_EQ(bind_json<std::int64_t>(json::parse("-9223372036854775808")), kMin);
    EXPECT_EQ(bind_json<std::int64_t>("-9223372036854775808"), kMin);
    // Boost.JSON reads 2^63 as uint64, and integers below -2^63 as doubles (rounded: the next
    // double below -2^63 is -2^63 - 2048).
    EXPECT_EQ(bind_issues<std::int64_t>(json::parse("9223372036854775808")).at(0).msg,
              "Input should be less than or equal to 9223372036854775807");
    EXPECT_EQ(bind_issues<std::int64_t>(json::parse("-9223372036854777856")).at(0).msg,
              "Input should be greater than or equal to -9223372036854775808");
    EXPECT_EQ(issue_type<std::int64_t>("9223372036854775808"), "less_than_equal");
    EXPECT_EQ(issue_type<std::int64_t>("-9223372036854775809"), "greater_than_equal");
    EXPECT_EQ(issue_type<std::int64_t>(1e30), "less_than_equal");
}

TEST(JsonBinding, Uint64RangeEdges) {
    constexpr auto kMax = std::numeric_limits<std::uint64_t>::max();
    EXPECT_EQ(bind_json<std::uint64_t>(json::parse("18446744073709551615")), kMax);
    EXPECT_EQ(bind_json<std::uint64_t>("18446744073709551615"), kMax);
    EXPECT_EQ(bind_issues<std::uint64_t>(json::parse("18446744073709551616")).at(0).msg,
              "Input should be less than or equal to 18446744073709551615");
    EXPECT_EQ(issue_type<std::uint64_t>("18446744073709551616"), "less_than_equal");
    EXPECT_EQ(issue_type<std::uint64_t>("99999999999999999999999999999"), "less_than_equal");
    EXPECT_EQ(issue_type<std::uint64_t>("-99999999999999999999999999999"), "greater_than_equal");
    EXPECT_EQ(issue_type<std::uint64_t>(-1), "greater_than_equal");
}

// --- floats ----------------------------------------------------------------------------------

TEST(JsonBinding, FloatAcceptsNumbersAndNumericStrings) {
    EXPECT_EQ(bind_json<double>(1.5), 1.5);
    EXPECT_EQ(bind_json<double>(2), 2.0);
    EXPECT_EQ(bind_json<double>(json::parse("18446744073709551615")), 18446744073709551615.0);
    EXPECT_EQ(bind_json<double>("3.25"), 3.25);
    EXPECT_EQ(bind_json<double>(" 1e3 "), 1000.0);
    EXPECT_EQ(bind_json<double>("-0.5"), -0.5);
    EXPECT_EQ(bind_json<double>("+2"), 2.0);
    EXPECT_EQ(bind_json<double>(".5"), 0.5);
    EXPECT_EQ(bind_json<double>("1e-400"), 0.0);
    EXPECT_EQ(bind_json<float>(0.25), 0.25f);
}

TEST(JsonBinding, FloatRejectsNonNumbers) {
    EXPECT_EQ(issue_type<double>(true), "float_type");
    EXPECT_EQ(issue_type<double>(nullptr), "float_type");
    EXPECT_EQ(issue_type<double>(json::array{}), "float_type");
    EXPECT_EQ(bind_issues<double>(true).at(0).msg, "Input should be a valid number");
}

TEST(JsonBinding, FloatRejectsUnparsableAndNonFiniteStrings) {
    for (const char* text : {"abc", "", "1.2.3", "1e", "e5", "--1", "+-1", "0x1p3", "1,5"}) {
        EXPECT_EQ(issue_type<double>(text), "float_parsing") << text;
    }
    for (const char* text : {"nan", "NaN", "inf", "-inf", "Infinity", "-Infinity"}) {
        EXPECT_EQ(issue_type<double>(text), "float_parsing") << text;
    }
    EXPECT_EQ(bind_issues<double>("abc").at(0).msg,
              "Input should be a valid number, unable to parse string as a number");
}

TEST(JsonBinding, FloatRejectsOverflow) {
    EXPECT_EQ(issue_type<double>("1e400"), "finite_number");
    EXPECT_EQ(issue_type<double>("-1e400"), "finite_number");
    EXPECT_EQ(issue_type<double>(json::parse("1e400")), "finite_number");
    EXPECT_EQ(issue_type<float>(1e39), "finite_number");
}

// --- bools -----------------------------------------------------------------------------------

TEST(JsonBinding, BoolAcceptsBoolsZeroOneAndWords) {
    EXPECT_TRUE(bind_json<bool>(true));
    EXPECT_FALSE(bind_json<bool>(false));
    EXPECT_TRUE(bind_json<bool>(1));
    EXPECT_FALSE(bind_json<bool>(0));
    for (const char* text : {"true", "TRUE", "True", "1", "yes", "YeS", "on", "t", "T", "y"}) {
        EXPECT_TRUE(bind_json<bool>(text)) << text;
    }
    for (const char* text : {"false", "FALSE", "0", "no", "NO", "off", "Off", "f", "n", "N"}) {
        EXPECT_FALSE(bind_json<bool>(text)) << text;
    }
}

TEST(JsonBinding, BoolRejectsOtherInput) {
    EXPECT_EQ(issue_type<bool>(2), "bool_parsing");
    EXPECT_EQ(issue_type<bool>(-1), "bool_parsing");
    EXPECT_EQ(issue_type<bool>(0.5), "bool_parsing");
    for (const char* text : {"maybe", "", " true", "tru", "2", "yess"}) {
        EXPECT_EQ(issue_type<bool>(text), "bool_parsing") << text;
    }
    EXPECT_EQ(issue_type<bool>(nullptr), "bool_type");
    EXPECT_EQ(issue_type<bool>(json::array{}), "bool_type");
    EXPECT_EQ(bind_issues<bool>(nullptr).at(0).msg, "Input should be a valid boolean");
    EXPECT_EQ(bind_issues<bool>("maybe").at(0).msg,
              "Input should be a valid boolean, unable to interpret input");
}

// --- containers and JSON values --------------------------------------------------------------

TEST(JsonBinding, VectorBindsEachItem) {
    EXPECT_EQ(bind_json<std::vector<int>>(json::parse(R"([1, "2", 3.0])")),
              (std::vector<int>{1, 2, 3}));
    EXPECT_TRUE(bind_json<std::vector<int>>(json::array{}).empty());
    EXPECT_EQ(bind_json<std::vector<bool>>(json::parse(R"([true, "no", 1])")),
              (std::vector<bool>{true, false, true}));
}

TEST(JsonBinding, VectorReportsEveryBadItemByIndex) {
    const auto issues = bind_issues<std::vector<int>>(json::parse(R"([1, "x", 3.5, 4])"));
    ASSERT_EQ(issues.size(), 2u);
    EXPECT_EQ(issues[0].loc, (json::array{"body", 1}));
    EXPECT_EQ(issues[0].type, "int_parsing");
    EXPECT_EQ(issues[1].loc, (json::array{"body", 2}));
    EXPECT_EQ(issues[1].type, "int_from_float");
}

TEST(JsonBinding, VectorRejectsNonArray) {
    EXPECT_EQ(issue_type<std::vector<int>>(json::object{}), "list_type");
    EXPECT_EQ(issue_type<std::vector<int>>("1,2"), "list_type");
    EXPECT_EQ(bind_issues<std::vector<int>>(1).at(0).msg, "Input should be a valid list");
}

TEST(JsonBinding, MapBindsEachValueAndReportsByKey) {
    EXPECT_EQ((bind_json<std::map<std::string, int>>(json::parse(R"({"a": 1, "b": "2"})"))),
              (std::map<std::string, int>{{"a", 1}, {"b", 2}}));
    EXPECT_EQ(
        (bind_json<std::unordered_map<std::string, std::string>>(json::parse(R"({"k": "v"})"))),
        (std::unordered_map<std::string, std::string>{{"k", "v"}}));
    const auto issues =
        bind_issues<std::map<std::string, int>>(json::parse(R"({"a": 1, "b": "x"})"));
    ASSERT_EQ(issues.size(), 1u);
    EXPECT_EQ(issues[0].loc, (json::array{"body", "b"}));
    EXPECT_EQ(issues[0].type, "int_parsing");
}

TEST(JsonBinding, MapRejectsNonObject) {
    EXPECT_EQ((issue_type<std::map<std::string, int>>(json::array{})), "dict_type");
    EXPECT_EQ((issue_type<std::unordered_map<std::string, int>>(nullptr)), "dict_type");
    EXPECT_EQ((bind_issues<std::map<std::string, int>>(1).at(0).msg),
              "Input should be a valid dictionary");
}

TEST(JsonBinding, JsonValuesAreTakenAsTheyAre) {
    const auto v = json::parse(R"({"any": [1, {"x": null}]})");
    EXPECT_EQ(bind_json<json::value>(v), v);
    EXPECT_EQ(bind_json<json::value>(nullptr), json::value(nullptr));
    EXPECT_EQ(bind_json<json::object>(v), v.get_object());
    EXPECT_EQ(bind_json<json::array>(v.at("any")), v.at("any").get_array());
    EXPECT_EQ(issue_type<json::object>(json::array{}), "dict_type");
    EXPECT_EQ(issue_type<json::array>(json::object{}), "list_type");
}

// --- enums -----------------------------------------------------------------------------------

TEST(JsonBinding, EnumBindsByName) {
    EXPECT_EQ(bind_json<Color>("green"), Color::green);
    EXPECT_EQ(bind_json<Single>("only"), Single::only);
}

TEST(JsonBinding, EnumRejectsOtherNamesWithPydanticMessage) {
    const auto issues = bind_issues<Color>("purple");
    ASSERT_EQ(issues.size(), 1u);
    EXPECT_EQ(issues[0].type, "enum");
    EXPECT_EQ(issues[0].msg, "Input should be 'red', 'green' or 'blue'");
    EXPECT_EQ(issue_type<Color>("Green"), "enum");
    EXPECT_EQ(issue_type<Color>(1), "enum");
    EXPECT_EQ(bind_issues<Single>("x").at(0).msg, "Input should be 'only'");
}

// --- structs ---------------------------------------------------------------------------------

TEST(JsonBinding, StructBindsFieldsAndIgnoresUnknownKeys) {
    const auto user = bind_json<User>(json::parse(R"({
        "name": "Ada", "email": "ada@example.com", "age": "36", "tags": ["a", "b"],
        "address": {"street": "1 Main St", "zip": "12345"}, "color": "blue",
        "scores": {"x": 1}, "unknown": {"deep": [1, 2, 3]}
    })"));
    EXPECT_EQ(user.name, "Ada");
    EXPECT_EQ(user.email, "ada@example.com");
    EXPECT_EQ(user.age, 36);
    EXPECT_EQ(user.tags, (std::vector<std::string>{"a", "b"}));
    ASSERT_TRUE(user.address.has_value());
    EXPECT_EQ(user.address->zip, "12345");
    EXPECT_EQ(user.color, Color::blue);
    EXPECT_EQ(user.scores.at("x"), 1);
}

TEST(JsonBinding, StructReportsEveryMissingField) {
    const auto issues = bind_issues<User>(json::parse(R"({"email": "a@b.c"})"));
    // name, age, tags, color, scores are required; source and address are optional.
    ASSERT_EQ(issues.size(), 5u);
    const std::vector<std::string> expected{"name", "age", "tags", "color", "scores"};
    for (std::size_t i = 0; i < expected.size(); ++i) {
        EXPECT_EQ(issues[i].loc, (json::array{"body", expected[i]}));
        EXPECT_EQ(issues[i].msg, "Field required");
        EXPECT_EQ(issues[i].type, "missing");
    }
}

TEST(JsonBinding, StructReportsIssuesOfEveryKindTogether) {
    const auto issues = bind_issues<User>(json::parse(R"({
        "name": 1, "age": "old", "tags": ["ok", 2], "address": {"zip": null},
        "color": "pink", "scores": {"a": true}
    })"));
    std::vector<std::string> seen;
    for (const auto& issue : issues) {
        seen.push_back(json::serialize(issue.loc) + " " + issue.type);
    }
    EXPECT_EQ(seen,
              (std::vector<std::string>{
                  R"(["body","name"] string_type)",
                  R"(["body","email"] missing)",
                  R"(["body","age"] int_parsing)",
                  R"(["body","tags",1] string_type)",
                  R"(["body","address","street"] missing)",
                  R"(["body","address","zip"] string_type)",
                  R"(["body","color"] enum)",
                  R"(["body","scores","a"] int_type)",
              }));
}

TEST(JsonBinding, OptionalMemberKeepsDefaultWhenAbsent) {
    const auto user = bind_json<User>(json::parse(
        R"({"name": "a", "email": "b", "age": 1, "tags": [], "color": "red", "scores": {}})"));
    EXPECT_EQ(user.source, "organic");
    EXPECT_FALSE(user.address.has_value());
}

TEST(JsonBinding, OptionalMemberResetByNullAndSetByValue) {
    const auto reset = bind_json<User>(json::parse(
        R"({"name": "a", "email": "b", "age": 1, "tags": [], "color": "red", "scores": {},
            "source": null, "address": null})"));
    EXPECT_EQ(reset.source, std::nullopt);
    EXPECT_FALSE(reset.address.has_value());
    const auto set = bind_json<User>(json::parse(
        R"({"name": "a", "email": "b", "age": 1, "tags": [], "color": "red", "scores": {},
            "source": "ads"})"));
    EXPECT_EQ(set.source, "ads");
}

TEST(JsonBinding, OptionalTopLevel) {
    EXPECT_EQ(bind_json<std::optional<int>>(nullptr), std::nullopt);
    EXPECT_EQ(bind_json<std::optional<int>>("5"), 5);
    EXPECT_EQ(issue_type<std::optional<int>>("x"), "int_parsing");
}

TEST(JsonBinding, NestedStructLocPaths) {
    const auto issues = bind_issues<Order>(json::parse(R"({
        "ship_to": {"street": "s", "zip": 12345},
        "stops": [{"street": "a", "zip": "1"}, {"street": "b"}, 7]
    })"));
    ASSERT_EQ(issues.size(), 3u);
    EXPECT_EQ(issues[0].loc, (json::array{"body", "ship_to", "zip"}));
    EXPECT_EQ(issues[0].type, "string_type");
    EXPECT_EQ(issues[1].loc, (json::array{"body", "stops", 1, "zip"}));
    EXPECT_EQ(issues[1].type, "missing");
    EXPECT_EQ(issues[2].loc, (json::array{"body", "stops", 2}));
    EXPECT_EQ(issues[2].type, "model_attributes_type");
}

TEST(JsonBinding, StructRejectsNonObject) {
    for (const json::value& v :
         {json::value(json::array{}), json::value("x"), json::value(1), json::value(nullptr)}) {
        EXPECT_EQ(issue_type<Address>(v), "model_attributes_type") << json::serialize(v);
    }
    EXPECT_EQ(bind_issues<Address>(json::array{}).at(0).msg,
              "Input should be a valid dictionary or object to extract fields from");
}

TEST(JsonBinding, StructIncludesInheritedMembers) {
    const auto d = bind_json<Derived>(json::parse(R"({"id": "x", "count": 3})"));
    EXPECT_EQ(d.id, "x");
    EXPECT_EQ(d.count, 3);
    const auto issues = bind_issues<Derived>(json::object{});
    ASSERT_EQ(issues.size(), 2u);
    EXPECT_EQ(issues[0].loc, (json::array{"body", "id"}));
    EXPECT_EQ(issues[1].loc, (json::array{"body", "count"}));
}

TEST(JsonBinding, CustomLocPrefix) {
    try {
        bind_json<int>("x", json::array{"query", "limit"});
        FAIL() << "no ValidationError";
    } catch (const ValidationError& e) {
        ASSERT_EQ(e.issues().size(), 1u);
        EXPECT_EQ(e.issues()[0].loc, (json::array{"query", "limit"}));
    }
}

// --- errors ----------------------------------------------------------------------------------

TEST(JsonBinding, ValidationErrorSummaryAndFastApiShape) {
    try {
        bind_json<Address>(json::parse(R"({"zip": 1})"));
        FAIL() << "no ValidationError";
    } catch (const ValidationError& e) {
        EXPECT_STREQ(e.what(), "validation failed: body.street: Field required (and 1 more)");
        EXPECT_EQ(e.to_json(), json::parse(R"({"detail": [
            {"loc": ["body", "street"], "msg": "Field required", "type": "missing"},
            {"loc": ["body", "zip"], "msg": "Input should be a valid string",
             "type": "string_type"}
        ]})"));
    }
    const ValidationError one(json::array{"body", "email"}, "Field required", "missing");
    EXPECT_STREQ(one.what(), "validation failed: body.email: Field required");
    const ValidationError indexed(json::array{"body", "tags", 2}, "m", "t");
    EXPECT_STREQ(indexed.what(), "validation failed: body.tags.2: m");
}

TEST(JsonBinding, HttpErrorKeepsStatusDetailAndHeaders) {
    const afterwork::HttpError e(503, "busy", {{"Retry-After", "5"}});
    EXPECT_EQ(e.status(), 503);
    EXPECT_EQ(e.detail(), "busy");
    ASSERT_EQ(e.headers().size(), 1u);
    EXPECT_EQ(e.headers()[0].first, "Retry-After");
    EXPECT_STREQ(e.what(), "HTTP 503: busy");
}

// --- parse_json_body: hostile input ----------------------------------------------------------

TEST(JsonBinding, ParseBodyAcceptsJsonWithSurroundingWhitespace) {
    EXPECT_EQ(parse_json_body(" {\"a\": [1, 2]} \n"), json::parse(R"({"a": [1, 2]})"));
    EXPECT_EQ(parse_json_body("null"), json::value(nullptr));
}

TEST(JsonBinding, ParseBodyRejectsEmptyBody) {
    for (std::string_view body : {"", "   "}) {
        const auto issue = body_issue(body);
        EXPECT_EQ(issue.type, "json_invalid");
        EXPECT_EQ(issue.msg, "JSON decode error");
        EXPECT_EQ(issue.loc.at(0), "body");
    }
    EXPECT_EQ(body_issue("").loc, (json::array{"body", 0}));
}

TEST(JsonBinding, ParseBodyRejectsTrailingGarbageAtItsOffset) {
    const auto issue = body_issue(R"({"a": 1} x)");
    EXPECT_EQ(issue.type, "json_invalid");
    EXPECT_EQ(issue.loc, (json::array{"body", 9}));
    EXPECT_EQ(body_issue("1 2").loc, (json::array{"body", 2}));
}

TEST(JsonBinding, ParseBodyRejectsMalformedAtItsOffset) {
    EXPECT_EQ(body_issue(R"({"a": tru})").loc, (json::array{"body", 6}));
    EXPECT_EQ(body_issue(R"({"a": 1,})").type, "json_invalid");
    EXPECT_EQ(body_issue(R"([1, 2)").type, "json_invalid");
    EXPECT_EQ(body_issue("{'a': 1}").type, "json_invalid");
    EXPECT_EQ(body_issue("NaN").type, "json_invalid");
}

TEST(JsonBinding, ParseBodyRejectsDeepNestingWithoutCrashing) {
    EXPECT_EQ(body_issue(std::string(10'000, '[')).type, "json_invalid");
    EXPECT_EQ(body_issue(std::string(10'000, '[') + std::string(10'000, ']')).type, "json_invalid");
    std::string objects;
    for (int i = 0; i < 10'000; ++i) {
        objects += R"({"a":)";
    }
    EXPECT_EQ(body_issue(objects).type, "json_invalid");
    // 64 levels is the limit, not below it.
    EXPECT_NO_THROW(parse_json_body(std::string(64, '[') + std::string(64, ']')));
    EXPECT_EQ(body_issue(std::string(65, '[') + std::string(65, ']')).type, "json_invalid");
}

TEST(JsonBinding, ParseBodyRejectsInvalidUtf8) {
    EXPECT_EQ(body_issue("{\"a\": \"\xff\"}").loc, (json::array{"body", 7}));
    EXPECT_EQ(body_issue("\"\xc3\x28\"").type, "json_invalid");
    EXPECT_EQ(body_issue("\"\xed\xa0\x80\"").type, "json_invalid");  // UTF-16 surrogate
    EXPECT_EQ(body_issue(std::string("\"a\0b\"", 5)).type, "json_invalid");
}

TEST(JsonBinding, HugeNumbersBindToRangeOrFiniteIssues) {
    const auto huge_int = parse_json_body(std::string(400, '9'));
    EXPECT_EQ(issue_type<std::int64_t>(huge_int), "less_than_equal");
    EXPECT_EQ(issue_type<double>(huge_int), "finite_number");
    EXPECT_EQ(issue_type<int>(parse_json_body("-1e400")), "greater_than_equal");
    EXPECT_EQ(bind_json<double>(parse_json_body("1e-400")), 0.0);
    EXPECT_EQ(bind_json<int>(parse_json_body("1e-400")), 0);
}

// --- to_json ---------------------------------------------------------------------------------

TEST(JsonBinding, ToJsonWritesDescribedTypes) {
    User user;
    user.name = "Ada";
    user.email = "ada@example.com";
    user.age = 36;
    user.source = std::nullopt;
    user.tags = {"x"};
    user.address = Address{"1 Main St", "12345"};
    user.color = Color::green;
    user.scores = {{"a", 1}};
    EXPECT_EQ(afterwork::to_json(user), json::parse(R"({
        "name": "Ada", "email": "ada@example.com", "age": 36, "source": null, "tags": ["x"],
        "address": {"street": "1 Main St", "zip": "12345"}, "color": "green",
        "scores": {"a": 1}
    })"));
}

TEST(JsonBinding, ToJsonRoundTrips) {
    User user;
    user.name = "Bob";
    user.email = "b@example.com";
    user.age = -4;
    user.tags = {"p", "q"};
    user.color = Color::blue;
    user.scores = {{"k", 9}};
    const auto back = bind_json<User>(afterwork::to_json(user));
    EXPECT_EQ(back.name, user.name);
    EXPECT_EQ(back.email, user.email);
    EXPECT_EQ(back.age, user.age);
    EXPECT_EQ(back.source, user.source);
    EXPECT_EQ(back.tags, user.tags);
    EXPECT_FALSE(back.address.has_value());
    EXPECT_EQ(back.color, user.color);
    EXPECT_EQ(back.scores, user.scores);
}

TEST(JsonBinding, ToJsonScalars) {
    EXPECT_EQ(afterwork::to_json(true), json::value(true));
    EXPECT_EQ(afterwork::to_json(std::uint64_t{18446744073709551615u}),
              json::parse("18446744073709551615"));
    EXPECT_EQ(afterwork::to_json(std::int8_t{-5}), json::value(-5));
    EXPECT_EQ(afterwork::to_json(0.5f), json::value(0.5));
    EXPECT_EQ(afterwork::to_json("lit"), json::value("lit"));
    EXPECT_EQ(afterwork::to_json(std::string_view("sv")), json::value("sv"));
    EXPECT_EQ(afterwork::to_json(std::optional<int>{}), json::value(nullptr));
    EXPECT_EQ(afterwork::to_json(static_cast<Color>(7)), json::value(7));
    EXPECT_EQ(afterwork::to_json(std::vector<bool>{true, false}), json::parse("[true,false]"));
    EXPECT_EQ(afterwork::to_json(json::parse(R"({"a":[1]})")), json::parse(R"({"a":[1]})"));
}

// --- parse_text and text_issue ---------------------------------------------------------------

TEST(JsonBinding, ParseTextInt) {
    EXPECT_EQ(parse_text<int>("42"), 42);
    EXPECT_EQ(parse_text<int>(" 1"), 1);
    EXPECT_EQ(parse_text<int>("-0"), 0);
    EXPECT_EQ(parse_text<int>("+3"), 3);
    EXPECT_EQ(parse_text<int>("-2147483648"), -2147483647 - 1);
    for (std::string_view text : {"12a", "", "1e3", "1.0", "0x1", "--1", "1 2"}) {
        EXPECT_EQ(parse_text<int>(text), std::nullopt) << text;
        EXPECT_EQ(text_issue<int>(json::array{"query", "n"}, text).type, "int_parsing") << text;
    }
    EXPECT_EQ(parse_text<std::int8_t>("128"), std::nullopt);
    const auto issue = text_issue<std::int8_t>(json::array{"path", "n"}, "128");
    EXPECT_EQ(issue.loc, (json::array{"path", "n"}));
    EXPECT_EQ(issue.type, "less_than_equal");
    EXPECT_EQ(issue.msg, "Input should be less than or equal to 127");
    EXPECT_EQ(text_issue<unsigned>(json::array{"query", "n"}, "-1").type, "greater_than_equal");
}

TEST(JsonBinding, ParseTextFloat) {
    EXPECT_EQ(parse_text<double>("1.5"), 1.5);
    EXPECT_EQ(parse_text<double>("1e3"), 1000.0);
    EXPECT_EQ(parse_text<double>(" -2 "), -2.0);
    EXPECT_EQ(parse_text<float>("0.5"), 0.5f);
    for (std::string_view text : {"", "abc", "nan", "inf", "1e", "1.5x"}) {
        EXPECT_EQ(parse_text<double>(text), std::nullopt) << text;
        EXPECT_EQ(text_issue<double>(json::array{"query", "x"}, text).type, "float_parsing")
            << text;
    }
    EXPECT_EQ(text_issue<double>(json::array{"query", "x"}, "1e999").type, "finite_number");
    EXPECT_EQ(text_issue<float>(json::array{"query", "x"}, "1e39").type, "finite_number");
}

TEST(JsonBinding, ParseTextBool) {
    EXPECT_EQ(parse_text<bool>("true"), true);
    EXPECT_EQ(parse_text<bool>("Off"), false);
    EXPECT_EQ(parse_text<bool>("1"), true);
    EXPECT_EQ(parse_text<bool>("2"), std::nullopt);
    EXPECT_EQ(parse_text<bool>(""), std::nullopt);
    EXPECT_EQ(text_issue<bool>(json::array{"query", "b"}, "nah").type, "bool_parsing");
}

TEST(JsonBinding, ParseTextEnumAndString) {
    EXPECT_EQ(parse_text<Color>("blue"), Color::blue);
    EXPECT_EQ(parse_text<Color>("BLUE"), std::nullopt);
    const auto issue = text_issue<Color>(json::array{"path", "color"}, "pink");
    EXPECT_EQ(issue.type, "enum");
    EXPECT_EQ(issue.msg, "Input should be 'red', 'green' or 'blue'");
    EXPECT_EQ(parse_text<std::string>(" any text "), " any text ");
    EXPECT_EQ(parse_text<std::string>(""), "");
}

TEST(JsonBinding, TextIssueForValidTextNamesTheExpectedType) {
    EXPECT_EQ(text_issue<int>(json::array{"query", "n"}, "5").type, "int_parsing");
}

}  // namespace
