# The set-up access point of firmware/ucm_wifi.py, on its own so that a board on its home
# network never has this code on its heap: imported when the access point is first needed
# (no network configured, or the configured one not joined for ap.after_s).


def start(w):
    """Switch on the access point of the Wifi w (cfg["ap"]: ssid, password)."""
    a = w.cfg["ap"]
    if w.ap is None:
        w.ap = w.net.WLAN(w.net.AP_IF)
    # configured before it is switched on (the CYW43 takes the settings then);
    # security 0 = open, else WPA2 with the key
    if a["password"]:
        w.ap.config(ssid=a["ssid"], key=a["password"])
    else:
        w.ap.config(ssid=a["ssid"], security=0)
    w.ap.active(True)
    w.ap_active = True
    w.log(
        "wifi: access point %s up (%s): set-up page on http://%s/setup"
        % (a["ssid"], "WPA2" if a["password"] else "open", w.ap.ifconfig()[0])
    )


def stop(w):
    """Switch the access point of the Wifi w off."""
    w.ap.active(False)
    w.ap_active = False
    w.log("wifi: access point off")
