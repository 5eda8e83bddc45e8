// SPDX-License-Identifier: MIT
/*
 * Copyright (c) 2026 The gistd authors
 *
 * gistd turns a directory into a summarization queue.  This file holds the
 * command line and the order of start-up and shutdown: parse options, take
 * the key out of the environment, set up logging and libcurl, read the
 * settings (a bad file ends the start with EX_CONFIG), then hand over to
 * the event loop.  Fatal exits happen only here, before READY=1.
 */

#include "config.h"

#include <getopt.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>


#include "key.h"
#include "log.h"
#include "loop.h"
#include "outbox.h"
#include "settings.h"

#define GISTD_EXIT_USAGE 2

struct gistd_options {
	const char *config_path;
	bool is_once;
	bool is_check_only;
	bool is_verbose;
};

static void
gistd_usage(FILE *f)
{
	fprintf(f,
	    "Usage: gistd [-c FILE] [--once] [-t] [-v] [-V] [-h]\n"
	    "Summarize every text file dropped into the inbox.\n\n"
	    "  -c, --config FILE   settings file (default %s)\n"
	    "      --once          summarize what is in the inbox now, then exit\n"
	    "  -t, --check-config  check the settings file and exit\n"
	    "  -v, --verbose       log debug messages\n"
	    "  -V, --version       print the version and exit\n"
	    "  -h, --help          print this help and exit\n",
	    SYSCONFDIR "/gistd/gistd.conf");
}

/* Returns -1 to go on, else the exit status. */
static int
gistd_parse(int argc, char **argv, struct gistd_options *o)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "once", no_argument, NULL, 'o' },
		{ "check-config", no_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "c:tvVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o->config_path = optarg;
			break;
		case 'o':
			o->is_once = true;
			break;
		case 't':
			o->is_check_only = true;
			break;
		case 'v':
			o->is_verbose = true;
			break;
		case 'V':
			printf("gistd %s\n", PACKAGE_VERSION);
			return EXIT_SUCCESS;
		case 'h':
			gistd_usage(stdout);
			return EXIT_SUCCESS;
		default:
			gistd_usage(stderr);
			return GISTD_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "gistd: unexpected argument '%s'\n",
		    argv[optind]);
		gistd_usage(stderr);
		return GISTD_EXIT_USAGE;
	}
	return -1;
}

static void
gistd_print_problem(const char *problem, void *userdata)
{
	(void)userdata;
	fprintf(stderr, "%s\n", problem);
}

static void
gistd_log_problem(const char *problem, void *userdata)
{
	(void)userdata;
	log_msg(LOG_ERR, "%s", problem);
}

int
main(int argc, char **argv)
{
	struct gistd_options o = { SYSCONFDIR "/gistd/gistd.conf", false,
	    false, false };
	struct settings *s;
	int r;

	/*
	 * Two malloc arenas for all the threads.  The pool's threads
	 * allocate little and mostly wait, and with an arena each (glibc's
	 * default makes up to eight per CPU) the memory one frees is not
	 * reused by another: 500 workers peaked 3.5 MB higher.  With one,
	 * the transfer thread and the file threads queue for its lock; a
	 * second costs 0.5 MB there and saves 6 % of the CPU (BENCHMARKS.md).
	 */
	(void)mallopt(M_ARENA_MAX, 2);
	r = gistd_parse(argc, argv, &o);
	if (r >= 0)
		return r;
	key_take_environment();
	log_init(o.is_verbose);
	if (o.is_check_only) {
		r = settings_load(o.config_path, gistd_print_problem, NULL, &s);
		settings_unref(r == 0 ? s : NULL);
		return r == 0 ? EXIT_SUCCESS : EX_CONFIG;
	}
	if (settings_load(o.config_path, gistd_log_problem, NULL, &s) < 0)
		return EX_CONFIG;
	return loop_run(o.config_path, s, o.is_once);
}
