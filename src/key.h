/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 The gistd authors */
#ifndef GISTD_KEY_H
#define GISTD_KEY_H

/*
 * Finding the API key: api.key_file, else $CREDENTIALS_DIRECTORY/api-key,
 * else $OPENAI_API_KEY.  Main thread only.
 */

#include <stddef.h>

#define KEY_MAX_BYTES 4096

void key_take_environment(void);
int key_load(const char *key_file, char **ret_key, char **ret_source);
void key_free(char *key);

#endif
