/* SPDX-License-Identifier: MIT */
/* Copyright (c) 2026 The gistd authors */
#ifndef GISTD_MSGID_H
#define GISTD_MSGID_H

/*
 * Journal MESSAGE_IDs of lifecycle events and permanent failures.  Each is
 * explained in systemd/gistd.catalog; keep the two in step.
 */

#define MSGID_STARTED		"2f1c8d4e6a0b4b7e9c51d3a8e07f6b21"
#define MSGID_STOPPING		"8b3e5a1f0c2d4e6fa7b9c1d3e5f70812"
#define MSGID_RELOADED		"5d7f9b1c3e5a4c6e8f0a2b4d6c8e0f13"
#define MSGID_RELOAD_FAILED	"a1c3e5f7092b4d6f8a0c2e4b6d8f0a24"
#define MSGID_FILE_FAILED	"c4e6a8b0d2f44a6c8e0b2d4f6a8c0e35"
#define MSGID_PAUSED		"e7a9c1b3d5f74e8a0c2d4f6b8a0e2c46"
#define MSGID_RESUMED		"f0b2d4e6a8c04f1b3d5e7a9c0b2d4f57"
#define MSGID_INBOX_LOST	"1a3c5e7f9b0d4a2c4e6f8b0d2a4c6e68"
#define MSGID_INBOX_BACK	"93f35236200f4eacbb47f5cb94911cb6"
#define MSGID_STOPPED		"8c72784934524572836d521c0474ce13"

#endif
