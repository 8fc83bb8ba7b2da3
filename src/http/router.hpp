// SPDX-License-Identifier: MIT
#pragma once

// Router: a trie of path segments. Static segments are tried before `{param}` segments, and
// those before a trailing `{name:path}`, with backtracking, so `/users/me` beats
// `/users/{id}` whatever the order the routes were added in. Loop-bound after start: built
// from one thread, then only read.

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/container/small_vector.hpp>

#include <afterwork/http/app.hpp>

namespace afterwork::detail {

struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> param_names;  // in path order
    App::Handler handler;
};

using Segments = boost::container::small_vector<std::string_view, 8>;
using ParamValues = boost::container::small_vector<std::string_view, 4>;

struct RouteMatch {
    const Route* route = nullptr;  // set when found
    ParamValues values;  // parameter values in `route->param_names` order; view the path
    std::string allow;   // methods of the path, set on method_not_allowed
};

class Router {
public:
    enum class Outcome { found, not_found, method_not_allowed };

    /// Throws std::invalid_argument for a malformed pattern or a duplicate method + pattern.
    void add(std::string_view method, std::string_view pattern, App::Handler handler);
    /// `out.values` view `path`, which must outlive them.
    Outcome match(std::string_view method, std::string_view path, RouteMatch& out) const;

private:
    struct Node {
        std::map<std::string, std::unique_ptr<Node>, std::less<>> statics;
        std::unique_ptr<Node> param;
        std::unique_ptr<Node> tail;  // `{name:path}`: the rest of the path
        std::vector<std::unique_ptr<Route>> routes;
    };

    const Node* find(const Node& node, const Segments& segments, std::size_t index,
                     std::string_view rest, std::string_view method, ParamValues& values,
                     const Node*& path_match) const;

    Node root_;
};

/// Splits "/a/b/c" into {"a","b","c"}; "/" gives no segment. The path must start with '/'.
Segments split_path(std::string_view path);

}  // namespace afterwork::detail
