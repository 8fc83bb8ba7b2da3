// SPDX-License-Identifier: MIT
#pragma once

/// @file
/// `ValidationIssue`: one failing input as FastAPI reports it. Defined apart from the http
/// layer so that the jobs layer, which validates job arguments with the same rules, can name it.
///
/// @par Thread safety
/// Distinct objects safe, shared unsafe (a plain value).

#include <string>

#include <boost/json/array.hpp>

namespace afterwork {

/// One failing input, as FastAPI reports it: where (`["body","email"]`, `["query","delay"]`,
/// `["path","job_id"]`), a human message, and a machine-readable type such as `missing`.
struct ValidationIssue {
    boost::json::array loc;
    std::string msg;
    std::string type;
};

}  // namespace afterwork
