// SPDX-License-Identifier: MIT
#include <afterwork/http/json_binding.hpp>

#include <cstdint>
#include <string_view>

#include <boost/json/parser.hpp>
#include <boost/system/error_code.hpp>

namespace afterwork {

boost::json::value parse_json_body(std::string_view body) {
    boost::json::parse_options options;
    options.max_depth = 64;
    boost::json::parser parser({}, options);
    boost::system::error_code ec;
    // write_some stops after one complete value (and the whitespace after it), so a short count
    // without an error is trailing garbage; with an error, the count is the failing offset.
    const auto used = parser.write_some(body.data(), body.size(), ec);
    if (ec || used != body.size()) {
        throw ValidationError(boost::json::array{"body", static_cast<std::int64_t>(used)},
                              "JSON decode error",
                              "json_invalid");
    }
    return parser.release();
}

}  // namespace afterwork
