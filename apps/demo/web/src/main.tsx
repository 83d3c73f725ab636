/** Entry point of the web view: mount the page on #app with the default system. */
import { render } from "preact";
import { App } from "./app";
import { defaultSystem } from "./system";
import "./style.css";

const mount = document.getElementById("app");
if (mount !== null) render(<App system={defaultSystem()} />, mount);
