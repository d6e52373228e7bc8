// Mutual TLS over 127.0.0.1 with the keystores and truststore capstan wrote,
// loaded by the JDK itself. Run as a single-file program:
//   java TlsHandshake.java SERVER_STORE TYPE CLIENT_STORE TYPE TRUSTSTORE TYPE PASSWORD_FILE
// Exits 0 and prints the session when the handshake succeeds, 1 otherwise.
import java.io.InputStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.Principal;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManagerFactory;

public class TlsHandshake {
    private static volatile Principal clientSeenByServer;
    private static volatile Exception serverError;

    static KeyStore load(String path, String type, char[] password) throws Exception {
        KeyStore store = KeyStore.getInstance(type);
        try (InputStream in = Files.newInputStream(Path.of(path))) {
            store.load(in, password);
        }
        return store;
    }

    static SSLContext context(KeyStore keys, KeyStore trust, char[] password) throws Exception {
        KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(keys, password);
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(kmf.getKeyManagers(), tmf.getTrustManagers(), null);
        return ctx;
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 7) {
            System.err.println("usage: TlsHandshake SERVER TYPE CLIENT TYPE TRUST TYPE PASSWORD_FILE");
            System.exit(2);
        }
        char[] password = Files.readAllLines(Path.of(args[6])).get(0).toCharArray();
        KeyStore trust = load(args[4], args[5], password);
        if (trust.size() == 0) {
            System.err.println("the truststore holds no trusted certificate for Java");
            System.exit(1);
        }
        SSLContext server = context(load(args[0], args[1], password), trust, password);
        SSLContext client = context(load(args[2], args[3], password), trust, password);
        InetAddress loopback = InetAddress.getByName("127.0.0.1");
        try (SSLServerSocket listener = (SSLServerSocket) server.getServerSocketFactory()
                .createServerSocket(0, 1, loopback)) {
            listener.setNeedClientAuth(true);
            listener.setSoTimeout(20000);
            Thread serverThread = new Thread(() -> {
                try (SSLSocket s = (SSLSocket) listener.accept()) {
                    s.setSoTimeout(20000);
                    s.startHandshake();
                    clientSeenByServer = s.getSession().getPeerPrincipal();
                    s.getOutputStream().write(42);
                    s.getOutputStream().flush();
                } catch (Exception e) {
                    serverError = e;
                }
            });
            serverThread.start();
            String session;
            try (SSLSocket s = (SSLSocket) client.getSocketFactory().createSocket(loopback, listener.getLocalPort())) {
                s.setSoTimeout(20000);
                // Check the server's certificate names 127.0.0.1, as an HTTPS client would.
                SSLParameters params = s.getSSLParameters();
                params.setEndpointIdentificationAlgorithm("HTTPS");
                s.setSSLParameters(params);
                s.startHandshake();
                if (s.getInputStream().read() != 42)
                    throw new IllegalStateException("no data after the handshake");
                session = s.getSession().getProtocol() + " " + s.getSession().getCipherSuite()
                        + " server=" + s.getSession().getPeerPrincipal().getName();
            } // closed first: a TLS 1.3 server's close waits for the client's close_notify
            serverThread.join();
            if (serverError != null)
                throw serverError;
            System.out.println("handshake ok: " + session + " client=" + clientSeenByServer.getName());
        } catch (Exception e) {
            System.err.println("handshake failed: " + e);
            System.exit(1);
        }
    }
}
