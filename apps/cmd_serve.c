/* vigil serve: starts the named HTTP services (detect, enrich, enrich-light,
 * clip, florence, all) and runs until SIGINT or SIGTERM. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmds.h"
#include "opts.h"
#include "util/log.h"
#include "vigil/config.h"
#include "vigil/http.h"

static int parse_port(const char *s, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < 0 || v > 65535) return -1;
  *out = v;
  return 0;
}

static void list_services(FILE *f) {
  for (size_t i = 0; vigil_services[i]; i++)
    fprintf(f, "  %-13s port %u\n", vigil_services[i]->name, (unsigned)vigil_services[i]->port);
  fprintf(f, "  all           every service above, each on its own port\n\n");
}

typedef struct {
  const vigil_service *chosen[16];
  size_t n;
  const char *port_arg, *bind_arg, *config_arg;
  bool insecure;
} serve_args;

static void choose(serve_args *a, const vigil_service *s) {
  bool dup = false;
  for (size_t j = 0; j < a->n; j++) dup |= a->chosen[j] == s;
  if (!dup && a->n < 16) a->chosen[a->n++] = s;
}

static int add_service(void *ud, const char *name) {
  serve_args *a = ud;
  if (name[0] == '-') return -1;
  if (!strcmp(name, "all")) {
    for (size_t k = 0; vigil_services[k]; k++) choose(a, vigil_services[k]);
    return 0;
  }
  const vigil_service *s = vigil_service_find(name);
  if (!s) {
    fprintf(stderr, "vigil serve: unknown service '%s' (try --help)\n", name);
    return VIGIL_EXIT_USAGE;
  }
  choose(a, s);
  return 0;
}

/* --max-batch: the environment wins over the config file */
static int opt_max_batch(void *dst, const char *v) {
  (void)dst;
  long mb = 0;
  if (parse_port(v, &mb) || mb < 1 || mb > 256) return -1;
  setenv("VIGIL_DETECT_MAX_BATCH", v, 1);
  return 0;
}

int cmd_serve(int argc, char **argv) {
  serve_args sa = {0};
  const app_opt opts[] = {
      {"--port", "N", OPT_STR, &sa.port_arg, "port of the one named service (also: PORT env)", NULL},
      {"--bind", "ADDR", OPT_STR, &sa.bind_arg,
       "IPv4 address to listen on (also: VIGIL_HTTP_BIND; default 127.0.0.1\n"
       "without an API key, 0.0.0.0 with one)", NULL},
      {"--insecure", NULL, OPT_SET, &sa.insecure,
       "allow --bind beyond loopback without an API key (also: VIGIL_HTTP_INSECURE=1)", NULL},
      {"--config", "FILE", OPT_STR, &sa.config_arg, "KEY=VALUE file (also: VIGIL_CONFIG); the environment wins",
       NULL},
      {"--max-batch", "N", OPT_FN, NULL,
       "images per detector inference call, 1 to 256, bounds memory\n(also: VIGIL_DETECT_MAX_BATCH)", opt_max_batch},
  };
  const app_cmd cmd = {
      .name = "vigil serve",
      .synopsis = "usage: vigil serve SERVICE... [options]\n"
                  "\n"
                  "Runs HTTP services until SIGINT/SIGTERM. SERVICE is one of:\n",
      .more = list_services,
      .epilog = "\n"
                "Every service answers GET /health and GET /metrics. API keys: VIGIL_API_KEY or\n"
                "VIGIL_API_KEYS_FILE (docs/http-api.md). Keys: docs/configuration.md.\n"
                "The events service also serves the web dashboard at / and delivers MQTT and webhook\n"
                "alerts when MQTT_URL / WEBHOOK_URL are set (docs/dashboard.md).\n",
      APP_OPT_TABLE(opts),
      .positional = add_service,
      .ud = &sa,
      .needs = "SERVICE",
  };
  int prc = app_opts_parse(&cmd, 1, argc, argv);
  if (prc) return prc == APP_OPTS_HELP ? VIGIL_EXIT_OK : prc;
  if (sa.insecure) setenv("VIGIL_HTTP_INSECURE", "1", 1);
  const vigil_service *const *chosen = sa.chosen;
  size_t n = sa.n;
  const char *port_arg = sa.port_arg, *bind_arg = sa.bind_arg, *config_arg = sa.config_arg;

  char err[512];
  vigil_config *cfg;
  if (vigil_config_load(&cfg, config_arg, err, sizeof err)) {
    fprintf(stderr, "vigil serve: %s\n", err);
    return VIGIL_EXIT_USAGE;
  }
  vigil_config_set_global(cfg);

  long port = -1;
  if (port_arg) {
    if (n != 1) {
      fprintf(stderr, "vigil serve: --port needs exactly one service\n");
      return VIGIL_EXIT_USAGE;
    }
    if (parse_port(port_arg, &port)) {
      fprintf(stderr, "vigil serve: bad port '%s'\n", port_arg);
      return VIGIL_EXIT_USAGE;
    }
  } else if (vigil_config_str(NULL, "PORT")) {
    if (n == 1) {
      if (vigil_config_int(NULL, "PORT", &port, err, sizeof err)) {
        fprintf(stderr, "vigil serve: %s\n", err);
        return VIGIL_EXIT_USAGE;
      }
    } else {
      vlog_warn("PORT is ignored when several services are named; each uses its own port");
    }
  }

  vigil_http_params params;
  if (vigil_http_params_from_config(&params, NULL, err, sizeof err)) {
    fprintf(stderr, "vigil serve: %s\n", err);
    return VIGIL_EXIT_USAGE;
  }
  if (!bind_arg) bind_arg = vigil_config_str(NULL, "VIGIL_HTTP_BIND");
  if (bind_arg && !*bind_arg) bind_arg = NULL;
  vigil_http_auth *auth = NULL;
  if (vigil_http_auth_from_config(&auth, NULL, err, sizeof err)) {
    fprintf(stderr, "vigil serve: %s\n", err);
    return VIGIL_EXIT_USAGE;
  }
  bool keys = vigil_http_auth_n_keys(auth) > 0;
  const char *shown_bind = bind_arg ? bind_arg : keys ? "0.0.0.0" : "127.0.0.1";
  params.bind_addr = bind_arg;
  params.auth = auth;
  if (!keys && !bind_arg)
    vlog_info("no API key configured: listening on 127.0.0.1 only (set VIGIL_API_KEY or VIGIL_API_KEYS_FILE to "
              "serve other machines)");
  else if (!keys && params.allow_insecure_bind && strncmp(shown_bind, "127.", 4))
    vlog_warn("no API key configured and listening on %s: anyone who reaches these ports may use them", shown_bind);
  else if (keys)
    vlog_info("API keys: %zu; every route but /health needs one", vigil_http_auth_n_keys(auth));

  /* Block the stop signals before any thread starts, so that every thread
   * inherits the mask and only sigwait() below receives them. */
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, NULL);
  signal(SIGPIPE, SIG_IGN);

  vigil_http_server *servers[16] = {0};
  void *ctxs[16] = {0};
  int status = VIGIL_EXIT_OK;
  for (size_t i = 0; i < n; i++) {
    const vigil_service *s = chosen[i];
    if (s->init && s->init(&ctxs[i], cfg, err, sizeof err)) {
      fprintf(stderr, "vigil serve: %s: %s\n", s->name, err);
      status = VIGIL_EXIT_FAIL;
      break;
    }
    vigil_http_params p = params;
    p.port = port >= 0 ? (uint16_t)port : s->port;
    if (vigil_http_server_start(&servers[i], s, ctxs[i], p, err, sizeof err)) {
      fprintf(stderr, "vigil serve: %s: %s\n", s->name, err);
      status = VIGIL_EXIT_FAIL;
      break;
    }
    vlog_info("%s listening on http://%s:%u", s->name, shown_bind,
              (unsigned)vigil_http_server_port(servers[i]));
  }
  if (status == VIGIL_EXIT_OK) {
    int sig = 0;
    sigwait(&stop, &sig);
    vlog_info("signal %d: shutting down", sig);
  }
  for (size_t i = n; i-- > 0;) {
    vigil_http_server_free(servers[i]);
    if (chosen[i]->free && ctxs[i]) chosen[i]->free(ctxs[i]);
  }
  vigil_http_auth_free(auth);
  vigil_config_set_global(NULL);
  return status;
}
