// Starts LittleProxy (the maintained fork xyz.rogfam:littleproxy, fetched from Maven Central by run.sh)
// on 127.0.0.1 only; LittleProxy's own Launcher binds every interface. Run as a single-file program:
//   java -cp 'littleproxy/lib/*' LittleProxyMain.java PORT
import java.net.InetSocketAddress;
import org.littleshoot.proxy.impl.DefaultHttpProxyServer;

public class LittleProxyMain {
  public static void main(String[] args) throws Exception {
    int port = Integer.parseInt(args[0]);
    DefaultHttpProxyServer.bootstrap()
        .withAddress(new InetSocketAddress("127.0.0.1", port))
        .withConnectTimeout(10_000)
        .start();
    System.out.println("ready littleproxy=" + port);
    Thread.currentThread().join();
  }
}
