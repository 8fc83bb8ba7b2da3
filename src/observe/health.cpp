// SPDX-License-Identifier: MIT
#include <afterwork/observe/health.hpp>

#include <afterwork/http/response.hpp>

namespace afterwork {

void mount_health(App& app, std::string path) {
    app.get(path, [](Request&) -> Task<Response> { co_return json_response({{"status", "ok"}}); });
}

}  // namespace afterwork
