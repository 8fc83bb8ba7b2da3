// SPDX-License-Identifier: MIT
#include "http/router.hpp"

#include <stdexcept>

namespace afterwork::detail {

Segments split_path(std::string_view path) {
    Segments segments;
    if (path.empty() || path == "/") return segments;
    std::size_t start = 1;
    for (;;) {
        std::size_t slash = path.find('/', start);
        if (slash == std::string_view::npos) {
            segments.push_back(path.substr(start));
            return segments;
        }
        segments.push_back(path.substr(start, slash - start));
        start = slash + 1;
    }
}

namespace {
bool valid_name(std::string_view name) {
    if (name.empty()) return false;
    for (char c : name) {
        if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_')) return false;
    }
    return true;
}
}  // namespace

void Router::add(std::string_view method, std::string_view pattern, App::Handler handler) {
    auto fail = [&](std::string_view why) {
        throw std::invalid_argument("route " + std::string(method) + " " + std::string(pattern) +
                                    ": " + std::string(why));
    };
    if (method.empty()) fail("empty method");
    if (pattern.empty() || pattern.front() != '/') fail("a pattern starts with '/'");
    if (!handler) fail("no handler");
    auto segments = split_path(pattern);
    auto route = std::make_unique<Route>();
    route->method = std::string(method);
    route->pattern = std::string(pattern);
    route->handler = std::move(handler);
    Node* node = &root_;
    for (std::size_t i = 0; i < segments.size(); ++i) {
        std::string_view segment = segments[i];
        if (segment.size() >= 2 && segment.front() == '{' && segment.back() == '}') {
            std::string_view inner = segment.substr(1, segment.size() - 2);
            std::string_view name = inner;
            bool tail = false;
            if (auto colon = inner.find(':'); colon != std::string_view::npos) {
                name = inner.substr(0, colon);
                std::string_view kind = inner.substr(colon + 1);
                if (kind == "path") {
                    tail = true;
                } else if (kind != "str") {
                    fail("unknown parameter kind '" + std::string(kind) +
                         "' (use {name} and convert with path_param<T>, or {name:path})");
                }
            }
            if (!valid_name(name)) fail("bad parameter name '" + std::string(name) + "'");
            for (const auto& existing : route->param_names) {
                if (existing == name) fail("parameter '" + std::string(name) + "' appears twice");
            }
            route->param_names.emplace_back(name);
            if (tail) {
                if (i + 1 != segments.size()) fail("{name:path} must be the last segment");
                if (!node->tail) node->tail = std::make_unique<Node>();
                node = node->tail.get();
            } else {
                if (!node->param) node->param = std::make_unique<Node>();
                node = node->param.get();
            }
        } else {
            if (segment.find_first_of("{}") != std::string_view::npos) {
                fail("a parameter must be a whole segment");
            }
            auto it = node->statics.find(segment);
            if (it == node->statics.end()) {
                it = node->statics.emplace(std::string(segment), std::make_unique<Node>()).first;
            }
            node = it->second.get();
        }
    }
    for (const auto& existing : node->routes) {
        if (existing->method == method) fail("already routed as " + existing->pattern);
    }
    node->routes.push_back(std::move(route));
}

const Router::Node* Router::find(const Node& node, const Segments& segments, std::size_t index,
                                 std::string_view rest, std::string_view method,
                                 ParamValues& values, const Node*& path_match) const {
    if (index == segments.size()) {
        for (const auto& route : node.routes) {
            if (route->method == method) return &node;
        }
        if (!node.routes.empty() && !path_match) path_match = &node;
    } else {
        std::string_view segment = segments[index];
        // `rest` is the path from this segment on; the next one starts after its slash.
        std::string_view next_rest =
            rest.size() > segment.size() ? rest.substr(segment.size() + 1) : std::string_view{};
        if (auto it = node.statics.find(segment); it != node.statics.end()) {
            if (auto* found = find(*it->second, segments, index + 1, next_rest, method, values,
                                   path_match)) {
                return found;
            }
        }
        if (node.param && !segment.empty()) {
            values.emplace_back(segment);
            if (auto* found = find(*node.param, segments, index + 1, next_rest, method, values,
                                   path_match)) {
                return found;
            }
            values.pop_back();
        }
    }
    if (node.tail) {
        values.emplace_back(rest);
        const Node& tail = *node.tail;
        for (const auto& route : tail.routes) {
            if (route->method == method) return &tail;
        }
        if (!tail.routes.empty() && !path_match) path_match = &tail;
        values.pop_back();
    }
    return nullptr;
}

Router::Outcome Router::match(std::string_view method, std::string_view path,
                              RouteMatch& out) const {
    auto segments = split_path(path);
    ParamValues values;
    const Node* path_match = nullptr;
    std::string_view rest = path.size() > 1 ? path.substr(1) : std::string_view{};
    const Node* node = find(root_, segments, 0, rest, method, values, path_match);
    // HEAD is answered by the GET route (the server drops the body).
    if (!node && method == "HEAD") {
        values.clear();
        const Node* ignored = nullptr;
        node = find(root_, segments, 0, rest, "GET", values, ignored);
        method = "GET";
    }
    if (node) {
        for (const auto& route : node->routes) {
            if (route->method == method) out.route = route.get();
        }
        out.values = std::move(values);
        return Outcome::found;
    }
    if (path_match) {
        out.allow.clear();
        for (const auto& route : path_match->routes) {
            if (!out.allow.empty()) out.allow += ", ";
            out.allow += route->method;
        }
        return Outcome::method_not_allowed;
    }
    return Outcome::not_found;
}

}  // namespace afterwork::detail
