/* container-disk: the one process of a containerDisk's container in a launcher pod.
 *
 * The disk's image has no shell and no tools (KubeVirt's containerDisks are FROM scratch), so
 * the launcher image carries this static program, an init container copies it into a volume
 * the pod shares, and each disk container runs it. It listens on a unix socket named after
 * the volume; virt-launcher connects, reads the peer's pid (SO_PEERCRED) and opens the disk
 * at /proc/<pid>/root/disk/... (virtkube.launcher.diskcontainer). It never reads the disk
 * itself. SIGTERM (the pod stopping) removes the socket and exits 0.
 *
 * Usage: container-disk --copy-path <folder>/<volume>   (listens on <folder>/<volume>.sock)
 * Build: gcc -static -Os -s -o container-disk container-disk.c (images/launcher.py)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];

static void on_term(int sig) {
    (void)sig;
    unlink(sock_path);
    _exit(0);
}

int main(int argc, char **argv) {
    const char *copy_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--copy-path") == 0 && i + 1 < argc) {
            copy_path = argv[++i];
        } else if (strcmp(argv[i], "--no-op") == 0) {
            return 0; /* lets an image check that the program runs */
        } else {
            fprintf(stderr, "container-disk: unknown argument %s\n", argv[i]);
            return 2;
        }
    }
    if (copy_path == NULL) {
        fprintf(stderr, "usage: container-disk --copy-path <folder>/<volume>\n");
        return 2;
    }
    if ((size_t)snprintf(sock_path, sizeof sock_path, "%s.sock", copy_path) >= sizeof sock_path) {
        fprintf(stderr, "container-disk: %s.sock is longer than a unix socket path allows\n",
                copy_path);
        return 2;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_term;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);

    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("container-disk: socket");
        return 1;
    }
    struct sockaddr_un addr;
    memset(&addr, 0, sizeof addr);
    addr.sun_family = AF_UNIX;
    memcpy(addr.sun_path, sock_path, strlen(sock_path));
    unlink(sock_path); /* a socket left by a previous run of this container */
    if (bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(fd, 8) < 0) {
        fprintf(stderr, "container-disk: listening on %s: %s\n", sock_path, strerror(errno));
        return 1;
    }
    for (;;) {
        int c = accept(fd, NULL, NULL);
        if (c >= 0)
            close(c);
        else if (errno != EINTR)
            perror("container-disk: accept");
    }
}
