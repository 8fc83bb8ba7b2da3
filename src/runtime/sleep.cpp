// SPDX-License-Identifier: MIT
#include <afterwork/runtime/sleep.hpp>

namespace afterwork::detail {

void Yield::await_resume() const {
    if (cancel_requested(*task)) throw_cancelled("yield cancelled");
}

}  // namespace afterwork::detail
