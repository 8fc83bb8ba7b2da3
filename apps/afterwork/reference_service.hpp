// SPDX-License-Identifier: MIT
#pragma once

// The reference service of `afterwork serve`: the examples of the reference articles
// (FastAPI's BackgroundTasks and lifespan) as one App. Built into a small library so the tests
// can drive it through the TestClient as well as over a socket.

#include <filesystem>

#include <afterwork/http/app.hpp>

namespace afterwork::apps {

struct ReferenceOptions {
    std::filesystem::path data_dir = "var";
};

/// Adds the routes, middleware and lifespan of the reference service to `app`.
void build_reference_service(App& app, ReferenceOptions options);

}  // namespace afterwork::apps
