//! TCP_NODELAY on our database sockets. sqlx leaves Nagle's algorithm on, and a
//! COPY into a table ends with a 5-byte CopyDone written right after the rows:
//! Nagle holds it until the server acknowledges the rows, and a server that has
//! nothing to answer during COPY acknowledges late (delayed ACK, 40 ms on
//! Linux). Every copied chunk paid that, about half the copy of a small
//! website. sqlx exposes no socket, so the connection's own socket is found
//! among the process's descriptors by its address pair, as the server sees
//! it; where it cannot be found (Unix sockets, a proxy or NAT between) nothing
//! changes but the delay.

use sqlx::PgConnection;

/// Turns Nagle off on `conn`'s socket; best effort, never fails the connection.
pub(crate) async fn set(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    let ends: Option<(Option<i32>, Option<i32>)> =
        sqlx::query_as("SELECT inet_client_port(), inet_server_port()")
            .fetch_optional(&mut *conn)
            .await?;
    if let Some((Some(local), Some(remote))) = ends {
        let found = on_socket(local, remote);
        tracing::trace!(found, local, remote, "TCP_NODELAY on a database socket");
    }
    Ok(())
}

/// Sets TCP_NODELAY on the process's TCP socket from port `local` to port
/// `remote`; whether one was found.
#[cfg(target_os = "linux")]
fn on_socket(local: i32, remote: i32) -> bool {
    use std::os::fd::BorrowedFd;
    let Ok(entries) = std::fs::read_dir("/proc/self/fd") else {
        return false;
    };
    for entry in entries.flatten() {
        let Some(fd) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
            continue;
        };
        // SAFETY: only borrowed for the two address reads and the option set
        // below; a descriptor closed meanwhile makes them fail (or, reused,
        // makes the address check fail), which is skipped.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        let socket = socket2::SockRef::from(&fd);
        let port = |addr: std::io::Result<socket2::SockAddr>| {
            addr.ok()
                .and_then(|a| a.as_socket())
                .map(|a| i32::from(a.port()))
        };
        if port(socket.local_addr()) == Some(local) && port(socket.peer_addr()) == Some(remote) {
            return socket.set_tcp_nodelay(true).is_ok();
        }
    }
    false
}

#[cfg(not(target_os = "linux"))]
fn on_socket(_local: i32, _remote: i32) -> bool {
    false
}
