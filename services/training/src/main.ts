import { main } from "@uniformity/lib";
import { app } from "./app";

main(app);
