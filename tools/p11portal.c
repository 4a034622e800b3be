/* SPDX-License-Identifier: Apache-2.0 */
/*
 * p11portal: the command-line tool (issue 7, docs/tool.md). main and the
 * table of subcommands; each subcommand lives in cmd_<name>.c.
 */
#include <stdio.h>
#include <string.h>

#include "tools/tool.h"

static const struct p11p_tool_cmd cmds[] = {
    { "status", "the token: driver, portal, keys, certificates, orders",
      p11p_cmd_status },
    { "orders", "list orders (filter by state, age, label)", p11p_cmd_orders },
    { "batch", "provision devices: MAC range or CSV, resumable",
      p11p_cmd_batch },
    { "import", "import portal-generated keys (PKCS#12, zip, PEM, CMS)",
      p11p_cmd_import },
    { "adopt", "link portal certificates whose keys are on the token",
      p11p_cmd_adopt },
    { "sync", "collect pending orders, refresh certificate states",
      p11p_cmd_sync },
    { "renew", "renew certificates expiring soon (same or new key)",
      p11p_cmd_renew },
    { "revoke", "revoke certificates at the portal", p11p_cmd_revoke },
    { "delete", "remove local objects (never touches the portal)",
      p11p_cmd_delete },
    { "export", "write a certificate and chain as PEM, DER or PKCS#7",
      p11p_cmd_export },
};

static void usage(FILE *f)
{
    fprintf(f, "Usage: p11portal COMMAND [OPTIONS]\n\nCommands:\n");
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        fprintf(f, "  %-8s %s\n", cmds[i].name, cmds[i].summary);
    }
    fprintf(f, "\n'p11portal COMMAND --help' shows a command's options. "
               "See p11portal(1).\n");
}

int main(int argc, char **argv)
{
    struct p11p_tool t = { .prog = "p11portal" };
    int rc;

    if (argc < 2 || strcmp(argv[1], "-h") == 0
        || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? P11P_EXIT_USAGE : P11P_EXIT_OK;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("p11portal %s\n", P11P_VERSION);
        return P11P_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(argv[1], cmds[i].name) == 0) {
            t.cmd = cmds[i].name;
            rc = cmds[i].run(&t, argc - 1, argv + 1);
            p11p_tool_close(&t);
            return rc < 0 ? P11P_EXIT_OK : rc;
        }
    }
    fprintf(stderr, "p11portal: unknown command \"%s\"\n", argv[1]);
    usage(stderr);
    return P11P_EXIT_USAGE;
}
