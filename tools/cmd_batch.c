/* SPDX-License-Identifier: Apache-2.0 */
/* p11portal batch: not written yet. */
#include "tools/tool.h"

int p11p_cmd_batch(struct p11p_tool *t, int argc, char **argv)
{
    int first = 0;
    int rc = p11p_tool_getopt(t, argc, argv, NULL, NULL, " [OPTIONS]\n", NULL,
                              NULL, &first);

    if (rc != 0) {
        return rc;
    }
    return p11p_tool_fail(t, P11P_EXIT_FAILED, "not implemented yet");
}
